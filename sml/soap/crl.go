package soap

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/internal/pki"
)

// CRLAlarm reports CRL problems: an Error log line and signpost_sml_crl_problems_total{zone} when a problem
// starts, and the gauge signpost_sml_crl_ok{zone} (1 while every CRL of the zone is current and verified, else 0).
type CRLAlarm struct {
	Log      *slog.Logger
	problems *prometheus.CounterVec
	ok       *prometheus.GaugeVec
}

// NewCRLAlarm returns the alarm, with its metrics registered in reg (nil: not registered).
func NewCRLAlarm(log *slog.Logger, reg prometheus.Registerer) (*CRLAlarm, error) {
	a := &CRLAlarm{Log: log,
		problems: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signpost_sml_crl_problems_total",
			Help: "CRL problems seen (a CRL file that is unreadable, fails its signature check or is past its next update), per zone."},
			[]string{"zone"}),
		ok: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "signpost_sml_crl_ok",
			Help: "1 while every CRL of the zone is readable, verified and current; 0 while the last good lists stay in force."},
			[]string{"zone"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{a.problems, a.ok} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("soap: CRL metrics: %w", err)
			}
		}
	}
	return a, nil
}

// CRLSet is one domain's revocation lists. Check stats each file and reloads it when its size, modification time
// or inode changed (replace a CRL by writing a new file and renaming it over the old one). A list that is
// unreadable, fails its signature check (its signer must be one of the domain's trusted issuers) or is past its
// next update raises the alarm, and the last good list of that file stays in force: a bad or expired list never
// lets a revoked certificate back in. An expired list that verifies is still used when there is no earlier good
// one (its revocations stand).
type CRLSet struct {
	zone    string
	issuers []*x509.Certificate
	alarm   *CRLAlarm

	mu    sync.Mutex
	files []*crlFile
}

type crlFile struct {
	path    string
	seen    os.FileInfo // of the last read (good or bad); nil: never read
	list    *x509.RevocationList
	revoked map[string]bool // serial numbers (hex) of list
	// diskProblem is what is wrong with the file as last read ("" when its list was adopted); problem is the
	// reported state ("" while the file's list is good and current).
	diskProblem, problem string
}

// NewCRLSet loads the CRL files of zone; each must be readable and verify against issuers now (an expired one
// only raises the alarm).
func NewCRLSet(zone string, files []string, issuers []*x509.Certificate, now time.Time, alarm *CRLAlarm) (*CRLSet, error) {
	if alarm == nil {
		alarm = &CRLAlarm{}
	}
	s := &CRLSet{zone: zone, issuers: issuers, alarm: alarm}
	for _, f := range files {
		cf := &crlFile{path: f}
		fi, list, err := s.read(f)
		if err != nil {
			return nil, fmt.Errorf("soap: CRL of domain %s: %w", zone, err)
		}
		cf.seen = fi
		cf.set(list)
		s.files = append(s.files, cf)
	}
	s.mu.Lock()
	s.refreshLocked(now)
	s.mu.Unlock()
	return s, nil
}

// Check reloads changed files and refuses the chain if a good list revokes one of its certificates (the root of
// the chain excepted).
func (s *CRLSet) Check(chains [][]*x509.Certificate, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked(now)
	for _, chain := range chains {
		for i := 0; i+1 < len(chain); i++ {
			c := chain[i]
			for _, f := range s.files {
				if f.list != nil && bytes.Equal(f.list.RawIssuer, c.RawIssuer) && f.revoked[c.SerialNumber.Text(16)] {
					return fmt.Errorf("the certificate %s is revoked by its issuer's CRL; call with a valid certificate", pki.Identity(c))
				}
			}
		}
	}
	return nil
}

// refreshLocked rereads the files that changed and updates the alarm.
func (s *CRLSet) refreshLocked(now time.Time) {
	allOK := true
	for _, f := range s.files {
		fi, err := os.Stat(f.path)
		switch {
		case err != nil:
			f.diskProblem, f.seen = "cannot be read: "+err.Error(), nil // reread when it is back
		case f.seen != nil && os.SameFile(fi, f.seen) && fi.Size() == f.seen.Size() && fi.ModTime().Equal(f.seen.ModTime()):
			// unchanged
		default:
			read, list, err := s.read(f.path)
			f.seen = fi
			if read != nil {
				f.seen = read
			}
			switch {
			case err != nil:
				f.diskProblem = err.Error()
			case f.list != nil && expired(list, now):
				f.diskProblem = "the new list is past its next update " + list.NextUpdate.UTC().Format(time.RFC3339) +
					"; the previous list stays in force"
			default:
				f.set(list)
				f.diskProblem = ""
			}
		}
		problem := f.diskProblem
		if problem == "" && f.list != nil && expired(f.list, now) {
			problem = "the list is past its next update " + f.list.NextUpdate.UTC().Format(time.RFC3339) + "; it stays in force"
		}
		if problem != f.problem {
			if problem != "" {
				s.alarm.problem(s.zone, f.path, problem)
			} else if s.alarm.Log != nil {
				s.alarm.Log.Info("soap: CRL is good again", "zone", s.zone, "file", f.path)
			}
			f.problem = problem
		}
		if f.problem != "" {
			allOK = false
		}
	}
	if s.alarm.ok != nil {
		v := 0.0
		if allOK {
			v = 1
		}
		s.alarm.ok.WithLabelValues(s.zone).Set(v)
	}
}

func expired(l *x509.RevocationList, now time.Time) bool {
	return !l.NextUpdate.IsZero() && now.After(l.NextUpdate)
}

func (a *CRLAlarm) problem(zone, file, problem string) {
	if a.Log != nil {
		a.Log.Error("soap: CRL problem: the last good list stays in force", "zone", zone, "file", file, "problem", problem)
	}
	if a.problems != nil {
		a.problems.WithLabelValues(zone).Inc()
	}
}

func (f *crlFile) set(l *x509.RevocationList) {
	f.list = l
	f.revoked = make(map[string]bool, len(l.RevokedCertificateEntries))
	for _, e := range l.RevokedCertificateEntries {
		f.revoked[e.SerialNumber.Text(16)] = true
	}
}

// read reads, parses and verifies one CRL file (PEM or DER); fi is the file's state at the read.
func (s *CRLSet) read(path string) (os.FileInfo, *x509.RevocationList, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot be read: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("cannot be read: %w", err)
	}
	data := make([]byte, fi.Size())
	if _, err := fh.ReadAt(data, 0); err != nil {
		return fi, nil, fmt.Errorf("cannot be read: %w", err)
	}
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "X509 CRL" {
			return fi, nil, fmt.Errorf("%s: PEM block %q is not an X509 CRL", path, b.Type)
		}
		data = b.Bytes
	}
	l, err := x509.ParseRevocationList(data)
	if err != nil {
		return fi, nil, fmt.Errorf("%s is not a CRL: %w", path, err)
	}
	var sigErr error = errors.New("no trusted issuer has the CRL's issuer name " + l.Issuer.String())
	for _, c := range s.issuers {
		if !bytes.Equal(c.RawSubject, l.RawIssuer) {
			continue
		}
		if sigErr = l.CheckSignatureFrom(c); sigErr == nil {
			return fi, l, nil
		}
	}
	return fi, nil, fmt.Errorf("%s fails its signature check: %w", path, sigErr)
}
