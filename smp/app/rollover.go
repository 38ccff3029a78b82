package app

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/httpapi"
	"github.com/signpost-project/signpost/smp/smlclient"
)

// Signing key rollover (`signpost smp rekey`) and participant migrations (`signpost smp sml migrate-out|in`).
//
// A new key is copied into the data directory (beside store.path, mode 0600) and becomes active at once or, with
// a date, at 00:00 UTC of that day: the SML is told first (PrepareChangeCertificate), the schedule is stored,
// and at the moment the signing key and the SML client certificate switch together; the documents are re-signed
// in the background. Until the re-signer reaches a document it is served signed by the older key, so every
// answer verifies with one certificate or the other.

// Option adjusts New.
type Option func(*rollover)

// WithClock sets the clock of the SMP (the service's and the key schedule's). Default time.Now.
func WithClock(now func() time.Time) Option { return func(r *rollover) { r.now = now } }

// WithScheduleTick sets how often the key schedule is looked at. Default one second.
func WithScheduleTick(d time.Duration) Option { return func(r *rollover) { r.tick = d } }

// rollover is the App's key schedule.
type rollover struct {
	now     func() time.Time
	tick    time.Duration
	dataDir string

	mu       sync.Mutex         // one rekey or scheduled switch at a time
	sched    *smp.KeySchedule   // the last schedule (pending or done)
	stored   *keyPair           // the active key, when the store's record won over the configuration
	lastErr  string             // the last failure of a due switch (logged once)
	kick     chan struct{}      // wakes the scheduler
	cancel   context.CancelFunc // stops the scheduler
	runningW sync.WaitGroup
}

func newRollover(cfg *conf.SMP, opts []Option) *rollover {
	dir := filepath.Dir(cfg.Store.Path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs // the paths the server reports mean the same to a command run elsewhere
	}
	r := &rollover{now: time.Now, tick: time.Second, dataDir: dir, kick: make(chan struct{}, 1)}
	for _, o := range opts {
		o(r)
	}
	return r
}

// loadKey loads a key the data directory keeps (smp.Options.LoadKey); the key that the store's record makes
// active is remembered for the SML client.
func (r *rollover) loadKey(f smp.KeyFiles) (crypto.Signer, []*x509.Certificate, error) {
	key, chain, err := r.load(f)
	if err == nil {
		r.stored = &keyPair{key: key, chain: chain}
	}
	return key, chain, err
}

func (r *rollover) load(f smp.KeyFiles) (crypto.Signer, []*x509.Certificate, error) {
	return LoadSigningKey(conf.TLSFiles{Cert: filepath.Join(r.dataDir, f.Cert), Key: filepath.Join(r.dataDir, f.Key)})
}

// initRollover runs at the end of New: the SML client takes the store's active key when it won over the
// configuration, and the last schedule is read.
func (a *App) initRollover(ctx context.Context) error {
	r := a.roll
	if r.stored != nil && smp.Fingerprint(r.stored.chain[0]) == smp.Fingerprint(a.svc.Certificate()) && a.smlc != nil {
		a.smlc.SetCertificate(tlsCertificate(r.stored.key, r.stored.chain))
	}
	ks, ok, err := a.svc.KeySchedule(ctx)
	if err != nil {
		return err
	}
	if ok {
		r.sched = &ks
		if ks.Pending() && ks.Fingerprint == smp.Fingerprint(a.svc.Certificate()) {
			a.log.Warn("signing: names the key scheduled for a later switch: it signs already, and the SML accepts it only from the scheduled moment; point signing: back at the current key until then",
				"at", ks.At.Format(time.RFC3339), "subject", ks.Subject)
		}
	}
	return nil
}

// CertificateChangeNear reports whether now lies within an hour of a scheduled key switch (before or after it):
// an SML that answers Unauthorized then may simply run on another clock, so the call is worth retrying.
func (a *App) CertificateChangeNear(now time.Time) bool {
	a.roll.mu.Lock()
	defer a.roll.mu.Unlock()
	ks := a.roll.sched
	if ks == nil {
		return false
	}
	d := now.Sub(ks.At)
	return d >= -time.Hour && d <= time.Hour
}

// KeySchedule returns the last key schedule (pending or done); ok is false when there is none.
func (a *App) KeySchedule() (ks smp.KeySchedule, ok bool) {
	a.roll.mu.Lock()
	defer a.roll.mu.Unlock()
	if a.roll.sched == nil {
		return ks, false
	}
	return *a.roll.sched, true
}

// registeredInSML reports whether the SML knows this SMP: an SML client is configured and the registrar registered
// the SMP, or at least one participant is registered, or the SML has the SMP itself. When the SML cannot be asked, it counts as known.
func (a *App) registeredInSML(ctx context.Context) bool {
	if a.smlc == nil {
		return false
	}
	if self, err := a.svc.SMLSelf(ctx); err == nil && self.Registered && !self.Unregistered {
		return true
	}
	if c, err := a.svc.RegistrationCounts(ctx); err == nil && c.Registered > 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_, err := a.smlc.ReadSMP(ctx)
	return err == nil || smlclient.KindOf(err) != smlclient.NotFound
}

var _ httpapi.Rollover = (*App)(nil)

// Rekey takes a new signing key (the admin API's POST /api/v1/signing-key, and `signpost smp rekey` on a stopped
// store): it keeps the key in the data directory, then switches at once, or tells the SML and schedules the switch
// for 00:00 UTC of r.At.
func (a *App) Rekey(ctx context.Context, r httpapi.RekeyRequest) (httpapi.RekeyResult, error) {
	ro := a.roll
	ro.mu.Lock()
	defer ro.mu.Unlock()
	now := ro.now().UTC()
	var at time.Time
	if r.At != "" {
		var err error
		if at, err = time.Parse(time.DateOnly, r.At); err != nil {
			return httpapi.RekeyResult{}, smp.Invalidf("at", "%q is not a date YYYY-MM-DD (the switch happens at 00:00 UTC of that day)", r.At)
		}
		if at.Before(now.Truncate(24 * time.Hour)) {
			return httpapi.RekeyResult{}, smp.Invalidf("at", "%s is in the past; give today or a later date", r.At)
		}
		if r.Force {
			return httpapi.RekeyResult{}, smp.Invalid("force", "--force is for a switch at once; a scheduled switch needs none (the SML is told of it)")
		}
	}
	kp, err := parseKey(ro.dataDir, r.CertificatePEM, r.KeyPEM)
	if err != nil {
		return httpapi.RekeyResult{}, err
	}
	cert := kp.chain[0]
	fp := smp.Fingerprint(cert)
	if fp == smp.Fingerprint(a.svc.Certificate()) {
		return httpapi.RekeyResult{}, smp.Invalid("certificate", "it is the signing certificate already; give the new one")
	}
	switch {
	case !now.Before(cert.NotAfter):
		return httpapi.RekeyResult{}, smp.Invalidf("certificate", "%s expired on %s", cert.Subject, cert.NotAfter.UTC().Format(time.RFC3339))
	case !at.IsZero() && (at.Before(cert.NotBefore) || !at.Before(cert.NotAfter)):
		return httpapi.RekeyResult{}, smp.Invalidf("at", "%s is outside the validity of %s (%s to %s)", r.At, cert.Subject,
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	case at.IsZero() && now.Before(cert.NotBefore):
		return httpapi.RekeyResult{}, smp.Invalidf("certificate", "%s is valid only from %s; schedule the switch with --at", cert.Subject, cert.NotBefore.UTC().Format(time.RFC3339))
	}
	res := httpapi.RekeyResult{Subject: cert.Subject.String(), Issuer: cert.Issuer.String(), Fingerprint: fp}
	if at.IsZero() && a.smlc != nil && a.registeredInSML(ctx) {
		why := fmt.Sprintf("this SMP is registered in the SML at %s, which knows it by its current certificate: after a switch at once the SML refuses every call of this SMP (registrations, migrations) until its operator changes the certificate there", a.smlc.URL())
		if !r.Force {
			return httpapi.RekeyResult{}, smp.Invalidf("at", "%s. Schedule the switch with --at DATE instead (the SML is told with PrepareChangeCertificate and both switch at 00:00 UTC of DATE), or give --force", why)
		}
		a.log.Warn("signing key switched at once with --force", "why", why)
		res.Warnings = append(res.Warnings, "--force: "+why)
	}
	files := smp.KeyFiles{Cert: "signing-" + fp[:16] + ".pem", Key: "signing-" + fp[:16] + "-key.pem"}
	if err := writeKey(ro.dataDir, files, kp); err != nil {
		return httpapi.RekeyResult{}, err
	}
	res.Files = []string{filepath.Join(ro.dataDir, files.Cert), filepath.Join(ro.dataDir, files.Key)}
	if at.IsZero() {
		if ks := ro.sched; ks != nil && ks.Pending() {
			res.Warnings = append(res.Warnings, fmt.Sprintf("a switch to %s is still scheduled for %s (the SML was told); give rekey --at again to change it", ks.Subject, ks.At.Format(time.RFC3339)))
		}
		if err := a.switchKey(ctx, kp, files); err != nil {
			return httpapi.RekeyResult{}, err
		}
		res.Generation = a.svc.Generation()
		res.Warnings = append(res.Warnings, "point signing: (and sml.client_tls, when set) in the configuration at "+res.Files[0]+" and "+res.Files[1])
		return res, nil
	}
	if a.smlc != nil {
		if err := a.smlc.PrepareChangeCertificate(ctx, cert, at); err != nil {
			return httpapi.RekeyResult{}, err
		}
		res.SMLAnnounced = true
	} else {
		res.Warnings = append(res.Warnings, "this SMP registers in no SML: only the signing key switches")
	}
	ks := smp.KeySchedule{At: at, Fingerprint: fp, Subject: cert.Subject.String(), Issuer: cert.Issuer.String(), NotAfter: cert.NotAfter.UTC(),
		Files: files, Created: now}
	if err := a.svc.ScheduleKey(ctx, ks); err != nil {
		return httpapi.RekeyResult{}, err
	}
	ro.sched = &ks
	ro.lastErr = ""
	res.At = at
	a.log.Info("signing key switch scheduled", "at", at.Format(time.RFC3339), "subject", ks.Subject, "sml_announced", res.SMLAnnounced)
	select {
	case ro.kick <- struct{}{}:
	default:
	}
	return res, nil
}

// parseKey reads a certificate chain and its key from PEM text, checking that they belong together.
func parseKey(dir, certPEM, keyPEM string) (*keyPair, error) {
	if certPEM == "" || keyPEM == "" {
		return nil, smp.Invalid("key", "give the new certificate and its private key")
	}
	// pki reads files: the text goes through two temporary files (mode 0600) in the data directory.
	tmp, err := os.MkdirTemp(dir, ".rekey-")
	if err != nil {
		return nil, smp.Internal("rekey: temporary directory", err)
	}
	defer os.RemoveAll(tmp)
	c, k := filepath.Join(tmp, "cert.pem"), filepath.Join(tmp, "key.pem")
	if err := os.WriteFile(c, []byte(certPEM), 0o600); err != nil {
		return nil, smp.Internal("rekey: temporary file", err)
	}
	if err := os.WriteFile(k, []byte(keyPEM), 0o600); err != nil {
		return nil, smp.Internal("rekey: temporary file", err)
	}
	key, chain, err := LoadSigningKey(conf.TLSFiles{Cert: c, Key: k})
	if err != nil {
		return nil, smp.Invalid("key", err.Error())
	}
	return &keyPair{key: key, chain: chain}, nil
}

// writeKey keeps kp in the data directory under files (both mode 0600).
func writeKey(dir string, files smp.KeyFiles, kp *keyPair) error {
	c, k := filepath.Join(dir, files.Cert), filepath.Join(dir, files.Key)
	if err := pki.WriteFiles(c, k, kp.key, kp.chain...); err != nil {
		return smp.Internal("rekey: keep the new key in the data directory", err)
	}
	if err := os.Chmod(c, 0o600); err != nil {
		return smp.Internal("rekey: keep the new key in the data directory", err)
	}
	return nil
}

// switchKey makes kp the signing key and the SML client certificate, then re-signs in the background.
func (a *App) switchKey(ctx context.Context, kp *keyPair, files smp.KeyFiles) error {
	if err := a.svc.SwitchKey(ctx, kp.key, kp.chain, &files); err != nil {
		return err
	}
	if a.smlc != nil {
		a.smlc.SetCertificate(tlsCertificate(kp.key, kp.chain))
	}
	a.startResign(nil)
	return nil
}

// SwitchIfDue switches to the scheduled key when its moment has come; it reports whether it switched. The
// scheduler calls it every tick; it is exported for tests and for commands on a stopped store.
func (a *App) SwitchIfDue(ctx context.Context) (bool, error) {
	ro := a.roll
	ro.mu.Lock()
	defer ro.mu.Unlock()
	if a.pg != nil {
		// A shared store: the schedule may have been made (or carried out) on another node since. Every node reads
		// it, so that any node running at the moment makes the switch (the first does; SwitchKey makes the others
		// take its generation) and knows when a certificate change is near (CertificateChangeNear).
		if stored, ok, err := a.svc.KeySchedule(ctx); err == nil && ok {
			ro.sched = &stored
		}
	}
	ks := ro.sched
	if ks == nil || !ks.Pending() || ro.now().Before(ks.At) {
		return false, nil
	}
	if smp.Fingerprint(a.svc.Certificate()) == ks.Fingerprint {
		// The configuration named the key before its moment: it signs already; only the SML client is left.
		if err := a.svc.CompleteKeySchedule(ctx); err != nil {
			return false, err
		}
		if key, chain, err := ro.load(ks.Files); err == nil && a.smlc != nil {
			a.smlc.SetCertificate(tlsCertificate(key, chain))
		}
		done := *ks
		done.Switched = ro.now().UTC()
		ro.sched = &done
		a.log.Info("scheduled signing key switch: the key signs already", "subject", ks.Subject)
		return false, nil
	}
	key, chain, err := ro.load(ks.Files)
	if err == nil && smp.Fingerprint(chain[0]) != ks.Fingerprint {
		err = fmt.Errorf("%s holds another certificate than the one scheduled (%s)", filepath.Join(ro.dataDir, ks.Files.Cert), ks.Subject)
	}
	if err == nil {
		err = a.switchKey(ctx, &keyPair{key: key, chain: chain}, ks.Files)
	}
	if err != nil {
		if msg := err.Error(); msg != ro.lastErr {
			ro.lastErr = msg
			a.log.Error("scheduled signing key switch failed; retrying", "at", ks.At.Format(time.RFC3339), "err", err)
		}
		return false, err
	}
	done := *ks
	done.Switched = ro.now().UTC()
	ro.sched = &done
	ro.lastErr = ""
	a.log.Info("scheduled signing key switch done: signing key and SML client certificate switched; re-signing in the background",
		"subject", ks.Subject, "generation", a.svc.Generation())
	return true, nil
}

// startSchedule runs the key schedule until stopSchedule: a due switch happens at once (a server started after
// the moment switches before it serves), later ones at the next tick after their moment.
func (a *App) startSchedule(ctx context.Context) {
	_, _ = a.SwitchIfDue(ctx)
	ro := a.roll
	ctx, cancel := context.WithCancel(context.Background())
	ro.cancel = cancel
	ro.runningW.Add(1)
	go func() {
		defer ro.runningW.Done()
		t := time.NewTicker(ro.tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-ro.kick:
			}
			_, _ = a.SwitchIfDue(ctx)
		}
	}()
}

func (a *App) stopSchedule() {
	if a.roll.cancel != nil {
		a.roll.cancel()
	}
	a.roll.runningW.Wait()
}

// MigrateOut prepares the migration of p to another SMP: a fresh key meeting the SML's rules is registered with
// PrepareToMigrate and returned, for the new SMP. cancel registers a fresh key that is never shown instead, so the
// key given out before no longer works (the SML interface has no cancel).
func (a *App) MigrateOut(ctx context.Context, p identifier.ID, cancel bool) (httpapi.MigrationResult, error) {
	if a.smlc == nil {
		return httpapi.MigrationResult{}, errNoSML
	}
	key, err := smlclient.NewMigrationKey()
	if err != nil {
		return httpapi.MigrationResult{}, smp.Internal("migration key", err)
	}
	if err := a.smlc.PrepareToMigrate(ctx, p, key); err != nil {
		return httpapi.MigrationResult{}, err
	}
	res := httpapi.MigrationResult{Participant: p.String()}
	if cancel {
		res.Note = "the migration key given out before no longer works: the SML now holds a fresh key that was never shown (the SML interface has no cancel)"
		return res, nil
	}
	res.Key = key
	res.Note = "give this key to the new SMP's operator out of band; the new SMP runs `signpost smp sml migrate-in " + p.String() +
		" --key KEY`. Until then the participant stays with this SMP; `--cancel` invalidates the key"
	return res, nil
}

// MigrateIn takes p over from the SMP that prepared its migration with key. The service group must exist on this
// SMP already; after the SML moved the participant, it is recorded as registered and its group as in the SML
// (registered first, so that no create intent is recorded).
func (a *App) MigrateIn(ctx context.Context, p identifier.ID, key string) (httpapi.MigrationResult, error) {
	if a.smlc == nil {
		return httpapi.MigrationResult{}, errNoSML
	}
	sg, err := a.svc.GetServiceGroup(ctx, p)
	if errors.Is(err, smp.ErrNotFound) {
		return httpapi.MigrationResult{}, smp.Invalidf("participant", "the service group of %s is not on this SMP: PUT it first with ?create-in-sml=false (so that it is not registered in the SML meanwhile), then migrate it in", p)
	}
	if err != nil {
		return httpapi.MigrationResult{}, err
	}
	if err := a.smlc.Migrate(ctx, p, key); err != nil {
		return httpapi.MigrationResult{}, err
	}
	if err := a.svc.SetRegistered(ctx, p); err != nil {
		return httpapi.MigrationResult{}, err
	}
	yes := true
	sg.InSML = true
	if _, err := a.svc.PutServiceGroup(ctx, smp.System, sg, smp.GroupWrite{InSML: &yes}); err != nil {
		return httpapi.MigrationResult{}, err
	}
	return httpapi.MigrationResult{Participant: p.String(), Note: "the SML now points " + p.String() + " at this SMP; the SMP that gave it up can delete its service group"}, nil
}

var errNoSML = smp.Invalid("sml", "this SMP registers in no SML: set sml.network (or sml.url) in its configuration")
