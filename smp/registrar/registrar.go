// Package registrar delivers the SMP's SML intents: it registers the SMP itself in the SML at start, then sends
// the pending intents of the outbox (package smp records them with each write) in order, batched with CreateList
// and DeleteList, retried with exponential backoff and jitter while the SML is away, and marked failed when the
// SML refuses them for good. The SML converges to the SMP's data; nothing recorded is dropped.
package registrar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/smlclient"
)

// Options configure a Registrar.
type Options struct {
	SMP *smp.Service
	SML *smlclient.Client
	// Self are the addresses the SMP registers itself with.
	Self smlclient.Addresses
	// Policy canonicalises the identifiers the SML lists (to compare them with the SMP's).
	Policy identifier.Policy
	Log    *slog.Logger
	// Registerer takes the metrics. Default: a private registry.
	Registerer prometheus.Registerer
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Transitional, when it returns true, makes an Unauthorized answer a reason to try again rather than a
	// failure: a scheduled certificate change is near, and the SMP's and SML's clocks may differ.
	Transitional func(now time.Time) bool
	// Batch is the most participants per CreateList or DeleteList. Default 100.
	Batch int
	// MinBackoff and MaxBackoff bound the wait before an intent (or the SML as a whole) is tried again.
	// Defaults 1s and 5m.
	MinBackoff, MaxBackoff time.Duration
	// Active reports whether this node runs the worker. With several nodes on one store, one node does (it holds
	// the leader lock); on the others Status says so rather than show their idle worker's state. Default: always.
	Active func() bool
}

// Registrar is the delivery worker. Run it once; the other methods are safe to call meanwhile.
type Registrar struct {
	o   Options
	m   *metrics
	run sync.Mutex // one delivery round (or operator call) at a time

	mu       sync.Mutex
	self     bool      // the SML has the SMP with its current addresses (this run)
	lastErr  string    // the last transient failure, "" after a success
	nextTry  time.Time // when the worker tries again after a transient failure
	failures int       // consecutive transient failures
	wake     chan struct{}
}

// New returns a registrar for o.
func New(o Options) (*Registrar, error) {
	if o.SMP == nil || o.SML == nil {
		return nil, errors.New("registrar: an SMP and an SML client are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Transitional == nil {
		o.Transitional = func(time.Time) bool { return false }
	}
	if o.Active == nil {
		o.Active = func() bool { return true }
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(5*time.Minute, o.MinBackoff)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	r := &Registrar{o: o, wake: make(chan struct{}, 1)}
	var err error
	if r.m, err = newMetrics(o.Registerer); err != nil {
		return nil, err
	}
	return r, nil
}

// Kick makes the worker look at the outbox now (an operator retried, or the SMP registered again).
func (r *Registrar) Kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Status is the registrar's view, for operators.
type Status struct {
	SML   string                 `json:"sml"`    // the SML's management URL
	SMPID string                 `json:"smp_id"` // this SMP's ID in it
	Self  smp.SMLSelf            `json:"self"`
	Count smp.RegistrationCounts `json:"participants"`
	// LastError is the last transient failure of the SML (unreachable, internal error), "" after a success;
	// NextAttempt is when the worker tries again.
	LastError   string    `json:"last_error,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// Standby: another node of a shared store runs the worker (it holds the leader lock), so LastError and
	// NextAttempt are that node's to tell; the counts and Self come from the store and hold for every node.
	Standby bool `json:"standby,omitempty"`
}

// Status returns the registrar's view.
func (r *Registrar) Status(ctx context.Context) (Status, error) {
	st := Status{SML: r.o.SML.URL(), SMPID: r.o.SML.SMPID()}
	var err error
	if st.Self, err = r.o.SMP.SMLSelf(ctx); err != nil {
		return st, err
	}
	if st.Count, err = r.o.SMP.RegistrationCounts(ctx); err != nil {
		return st, err
	}
	if !r.o.Active() {
		st.Standby = true
		return st, nil
	}
	r.mu.Lock()
	st.LastError, st.NextAttempt = r.lastErr, r.nextTry
	r.mu.Unlock()
	return st, nil
}

// Drained reports whether the SMP is registered and no intent waits.
func (r *Registrar) Drained(ctx context.Context) (bool, error) {
	r.mu.Lock()
	self := r.self
	r.mu.Unlock()
	if !self {
		return false, nil
	}
	c, err := r.o.SMP.RegistrationCounts(ctx)
	return err == nil && c.Pending == 0, err
}

// Run registers the SMP, records intents for groups that have none (Reconcile), and delivers intents until ctx
// ends. A panic in a round is contained: it is logged, and the round is tried again after a backoff.
func (r *Registrar) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		wait := r.safeRound(ctx)
		r.updateMetrics(ctx)
		if wait < 0 {
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-r.wake:
		case <-r.o.SMP.Intents():
		}
		t.Stop()
	}
	return nil
}

// idle is how long the worker sleeps with nothing due (new intents wake it at once).
const idle = time.Second

func (r *Registrar) safeRound(ctx context.Context) (wait time.Duration) {
	defer func() {
		if v := recover(); v != nil {
			r.o.Log.Error("SML registrar: panic in a delivery round; trying again", "panic", v)
			wait = r.transient(fmt.Sprintf("internal error: %v", v))
		}
	}()
	return r.round(ctx)
}

// round does one step of work and says how long to wait before the next (negative: go on at once).
func (r *Registrar) round(ctx context.Context) time.Duration {
	if ctx.Err() != nil {
		return 0
	}
	r.mu.Lock()
	if d := r.nextTry.Sub(r.o.Now()); d > 0 {
		r.mu.Unlock()
		return d
	}
	self := r.self
	r.mu.Unlock()

	st, err := r.o.SMP.SMLSelf(ctx)
	if err != nil {
		return r.transient(err.Error())
	}
	if st.Unregistered {
		return idle * 30 // the operator unregistered the SMP: nothing is delivered until `smp sml register`
	}
	if !self {
		if err := r.registerSelf(ctx); err != nil {
			return r.transient(err.Error())
		}
		if n, err := r.o.SMP.Reconcile(ctx); err != nil {
			return r.transient(err.Error())
		} else if n > 0 {
			r.o.Log.Info("SML intents recorded for service groups that had none", "participants", n)
		}
	}
	r.run.Lock()
	more, err := r.deliver(ctx)
	r.run.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		return r.transient(err.Error())
	}
	r.succeeded()
	if more {
		return -1
	}
	return idle
}

// registerSelf makes the SML know this SMP with its current addresses.
func (r *Registrar) registerSelf(ctx context.Context) error {
	r.run.Lock()
	defer r.run.Unlock()
	did, err := r.o.SML.RegisterSMP(ctx, r.o.Self)
	r.m.calls.WithLabelValues("register-smp", outcome(err)).Inc()
	if err != nil {
		if smlclient.KindOf(err) != smlclient.Transient {
			_ = r.o.SMP.SetSMLSelf(ctx, smp.SMLSelf{LastError: err.Error()})
		}
		return err
	}
	if err := r.o.SMP.SetSMLSelf(ctx, smp.SMLSelf{Registered: true}); err != nil {
		return err
	}
	r.mu.Lock()
	r.self = true
	r.mu.Unlock()
	r.o.Log.Info("SMP registered in the SML", "smp_id", r.o.SML.SMPID(), "sml", r.o.SML.URL(), "logical_address", r.o.Self.Logical, "result", did)
	return nil
}

// transient records a failure that a later attempt may not have, and returns the backoff.
func (r *Registrar) transient(msg string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures++
	d := r.backoff(r.failures - 1)
	r.lastErr, r.nextTry = msg, r.o.Now().Add(d)
	r.o.Log.Warn("SML registration did not go through; trying again later", "err", msg, "in", d.Round(time.Millisecond))
	return d
}

func (r *Registrar) succeeded() {
	r.mu.Lock()
	r.failures, r.lastErr, r.nextTry = 0, "", time.Time{}
	r.mu.Unlock()
}

// backoff is MinBackoff doubled per earlier attempt, at most MaxBackoff, with ±20% jitter.
func (r *Registrar) backoff(attempts int) time.Duration {
	d := r.o.MinBackoff
	for range min(attempts, 30) {
		d *= 2
		if d >= r.o.MaxBackoff {
			d = r.o.MaxBackoff
			break
		}
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// maxRound is how many due intents one round takes.
const maxRound = 1000

// deliver sends the due intents, in Seq order, in batches of the same operation. It returns more=true when it
// may have left due intents behind, and an error when the SML is unavailable (the round stops there).
func (r *Registrar) deliver(ctx context.Context) (more bool, err error) {
	due, err := r.o.SMP.DueIntents(ctx, r.o.Now(), maxRound)
	if err != nil || len(due) == 0 {
		return false, err
	}
	var owned map[string]bool // the SML's List for this SMP, fetched at most once per round
	for len(due) > 0 {
		n := 1
		for n < len(due) && n < r.o.Batch && due[n].Op == due[0].Op {
			n++
		}
		batch := due[:n]
		due = due[n:]
		outs, err := r.send(ctx, batch, &owned)
		if cerr := r.o.SMP.CompleteIntents(ctx, outs); cerr != nil {
			return false, cerr
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// send delivers one batch (all creates or all deletes) and returns the outcome of each; err is a transient
// failure, after which the undelivered intents are pending with their next attempt.
func (r *Registrar) send(ctx context.Context, batch []smp.Registration, owned *map[string]bool) ([]smp.Outcome, error) {
	op := batch[0].Op
	ids := make([]identifier.ID, len(batch))
	for i := range batch {
		ids[i] = batch[i].Participant
	}
	err := r.call(ctx, op, ids)
	if err == nil {
		outs := make([]smp.Outcome, len(batch))
		for i := range batch {
			outs[i] = r.done(batch[i])
		}
		return outs, nil
	}
	if smlclient.KindOf(err) == smlclient.Transient {
		return r.retryAll(batch, err), err
	}
	if len(batch) == 1 {
		o, err := r.refused(ctx, batch[0], err, owned)
		return []smp.Outcome{o}, err
	}
	// CreateList and DeleteList are all or nothing: one refused participant refuses the batch. Send each alone
	// so that only that one fails.
	r.o.Log.Info("SML refused a batch; sending its participants one by one", "op", op, "participants", len(batch), "err", smlclient.Message(err))
	var outs []smp.Outcome
	for i := range batch {
		o, err := r.send(ctx, batch[i:i+1], owned)
		outs = append(outs, o...)
		if err != nil {
			return append(outs, r.retryAll(batch[i+1:], err)...), err
		}
	}
	return outs, nil
}

func (r *Registrar) call(ctx context.Context, op smp.RegOp, ids []identifier.ID) error {
	var err error
	name := "create"
	if op == smp.RegDelete {
		name = "delete"
		err = r.o.SML.Delete(ctx, ids)
	} else {
		err = r.o.SML.Create(ctx, ids)
	}
	if len(ids) > 1 {
		name += "-list"
	}
	r.m.calls.WithLabelValues(name, outcome(err)).Inc()
	return err
}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	return smlclient.KindOf(err).String()
}

// done is the outcome of a delivered intent.
func (r *Registrar) done(x smp.Registration) smp.Outcome {
	o := smp.Outcome{Participant: x.Participant, Seq: x.Seq, State: smp.RegRegistered}
	if x.Op == smp.RegDelete {
		o.State = ""
	}
	return o
}

func (r *Registrar) retryAll(batch []smp.Registration, err error) []smp.Outcome {
	outs := make([]smp.Outcome, len(batch))
	now := r.o.Now()
	for i, x := range batch {
		outs[i] = smp.Outcome{Participant: x.Participant, Seq: x.Seq, State: smp.RegPending, Next: now.Add(r.backoff(x.Attempts)), Err: smlclient.Message(err)}
	}
	return outs
}

// refused decides what a refusal of one intent means.
func (r *Registrar) refused(ctx context.Context, x smp.Registration, err error, owned *map[string]bool) (smp.Outcome, error) {
	kind := smlclient.KindOf(err)
	msg := smlclient.Message(err)
	failed := smp.Outcome{Participant: x.Participant, Seq: x.Seq, State: smp.RegFailed, Err: msg}
	switch {
	case x.Op == smp.RegDelete && kind == smlclient.NotFound:
		return r.done(x), nil // not (or no longer) there: what the intent wanted
	case x.Op == smp.RegCreate && kind == smlclient.Exists:
		// The SML answers "already exists" whoever owns the participant: registered only if it is ours.
		ours, err := r.ours(ctx, x.Participant, owned)
		if err != nil {
			return r.retryAll([]smp.Registration{x}, err)[0], err
		}
		if ours {
			return r.done(x), nil
		}
		failed.Err = "registered by another SMP: migrate it (the SMP that has it runs `signpost smp sml migrate-out`, then this one `signpost smp sml migrate-in` with the key)"
		return failed, nil
	case x.Op == smp.RegCreate && kind == smlclient.NotFound:
		// The SML does not know this SMP (deleted meanwhile): register it again, then retry.
		r.mu.Lock()
		r.self = false
		r.mu.Unlock()
		return r.retryAll([]smp.Registration{x}, err)[0], err
	case kind == smlclient.Unauthorized && r.o.Transitional(r.o.Now()):
		return r.retryAll([]smp.Registration{x}, err)[0], nil
	case x.Op == smp.RegDelete && kind == smlclient.Unauthorized:
		// Not ours to delete: when the participant is no longer this SMP's (it migrated away), there is nothing
		// left to do; when it still is, the SML refuses this SMP's certificate, which someone must look at.
		ours, err := r.ours(ctx, x.Participant, owned)
		if err != nil {
			return r.retryAll([]smp.Registration{x}, err)[0], err
		}
		if !ours {
			return r.done(x), nil
		}
	}
	return failed, nil
}

// ours reports whether the SML lists p for this SMP. The list is read at most once per round (owned).
func (r *Registrar) ours(ctx context.Context, p identifier.ID, owned *map[string]bool) (bool, error) {
	if *owned == nil {
		ids, err := r.o.SML.List(ctx)
		r.m.calls.WithLabelValues("list", outcome(err)).Inc()
		if err != nil {
			return false, err
		}
		*owned = make(map[string]bool, len(ids))
		for _, id := range ids {
			if c, err := r.o.Policy.New(identifier.Participant, id.Scheme, id.Value); err == nil {
				id = c
			}
			(*owned)[id.String()] = true
		}
	}
	return (*owned)[p.String()], nil
}

// Register registers the SMP with its current addresses now (`signpost smp sml register`), clears an earlier
// unregistration, and records create intents for the groups that have none.
func (r *Registrar) Register(ctx context.Context) (string, error) {
	r.run.Lock()
	did, err := r.o.SML.RegisterSMP(ctx, r.o.Self)
	r.m.calls.WithLabelValues("register-smp", outcome(err)).Inc()
	r.run.Unlock()
	if err != nil {
		return "", err
	}
	if err := r.o.SMP.SetSMLSelf(ctx, smp.SMLSelf{Registered: true}); err != nil {
		return "", err
	}
	r.mu.Lock()
	r.self = true
	r.mu.Unlock()
	if _, err := r.o.SMP.Reconcile(ctx); err != nil {
		return did, err
	}
	r.succeeded()
	r.Kick()
	return did, nil
}

// Update sends the SMP's current addresses to the SML (`signpost smp sml update`).
func (r *Registrar) Update(ctx context.Context) error {
	r.run.Lock()
	defer r.run.Unlock()
	err := r.o.SML.UpdateSMP(ctx, r.o.Self)
	r.m.calls.WithLabelValues("update-smp", outcome(err)).Inc()
	return err
}

// Unregister deletes the SMP from the SML, which deletes its participants there too (`signpost smp sml
// unregister`). The registrations are forgotten, and nothing is registered again until Register.
func (r *Registrar) Unregister(ctx context.Context) (int, error) {
	r.run.Lock()
	defer r.run.Unlock()
	err := r.o.SML.UnregisterSMP(ctx)
	r.m.calls.WithLabelValues("unregister-smp", outcome(err)).Inc()
	if err != nil && smlclient.KindOf(err) != smlclient.NotFound {
		return 0, err
	}
	if err := r.o.SMP.SetSMLSelf(ctx, smp.SMLSelf{Unregistered: true}); err != nil {
		return 0, err
	}
	r.mu.Lock()
	r.self = false
	r.mu.Unlock()
	return r.o.SMP.ForgetRegistrations(ctx)
}

type metrics struct {
	calls  *prometheus.CounterVec
	depth  prometheus.Gauge
	failed prometheus.Gauge
	oldest prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signpost_smp_sml_calls_total", Help: "Calls of the SMP to its SML, by operation and outcome (ok, transient, not found, already exists, unauthorized, bad request).",
		}, []string{"op", "outcome"}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signpost_smp_sml_outbox_depth", Help: "SML intents waiting for delivery (pending).",
		}),
		failed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signpost_smp_sml_outbox_failed", Help: "SML intents the SML refused for good, waiting for `signpost smp sml retry`.",
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signpost_smp_sml_outbox_oldest_age_seconds", Help: "Age of the oldest pending SML intent (0: none).",
		}),
	}
	for _, c := range []prometheus.Collector{m.calls, m.depth, m.failed, m.oldest} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (r *Registrar) updateMetrics(ctx context.Context) {
	c, err := r.o.SMP.RegistrationCounts(ctx)
	if err != nil {
		return
	}
	r.m.depth.Set(float64(c.Pending))
	r.m.failed.Set(float64(c.Failed))
	age := 0.0
	if !c.OldestPending.IsZero() {
		age = max(0, r.o.Now().Sub(c.OldestPending).Seconds())
	}
	r.m.oldest.Set(age)
}
