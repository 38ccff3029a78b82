package smp

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"time"
)

// Key rollover: a signing key the operator hands to `signpost smp rekey` is copied into the SMP's data directory
// (KeyFiles) and becomes active at once (SwitchKey) or at a scheduled moment (ScheduleKey). The store records
// which key is active and where its files are, so that a restart with a configuration still naming the older key
// keeps the active one (Options.LoadKey).

// KeyFiles name the files of a signing key that the SMP keeps in its data directory (names relative to it): the
// certificate chain (PEM, leaf first) and the private key (PEM).
type KeyFiles struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// KeySchedule is a signing key switch planned for At: the SMP's signing key and SML client certificate change
// together then.
type KeySchedule struct {
	At          time.Time `json:"at"`
	Fingerprint string    `json:"certificate_sha256"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	NotAfter    time.Time `json:"not_after"`
	Files       KeyFiles  `json:"files"`
	Created     time.Time `json:"created"`
	// Switched is when the switch happened (zero: still pending).
	Switched time.Time `json:"switched,omitzero"`
}

// Pending reports whether the switch is still to happen.
func (k KeySchedule) Pending() bool { return k.Switched.IsZero() }

const settingSchedule = "signing_schedule"

// maxPrevious bounds how many replaced certificates the signing state remembers.
const maxPrevious = 16

// SwitchKey makes key (with chain, certificate first) the signing key at once: the next key generation, recorded
// in the store with files (where the key is kept in the data directory; nil: nowhere), so every write from now on
// is signed with it. A pending schedule for this certificate is marked done in the same commit. The documents
// stored so far keep their older signatures until Resign. When the store's active key is this one already
// (another node on a shared store made the same scheduled switch first), this node takes it at the store's
// generation and nothing is written.
func (s *Service) SwitchKey(ctx context.Context, key crypto.Signer, chain []*x509.Certificate, files *KeyFiles) error {
	if len(chain) == 0 {
		return errors.New("smp: a key switch needs the new certificate")
	}
	s.commitMu.Lock()
	cur := s.keys.Load()
	next, err := newKeys(cur.gen+1, key, chain)
	adopted := false
	if err == nil {
		now := s.now().UTC()
		err = s.repo.Update(ctx, func(tx WriteTx) error {
			st, err := readSigning(tx)
			if err != nil {
				return err
			}
			if st.Fingerprint == next.fingerprint {
				// Switched already, by another node (this node may have followed it since cur was read).
				next.gen, adopted = max(st.Generation, cur.gen), true
				return nil
			}
			prev := remember(st.Previous, st.Fingerprint)
			err = putSetting(tx, settingSigning, signingState{Generation: next.gen, Fingerprint: next.fingerprint,
				Subject: chain[0].Subject.String(), Since: now, Pending: true, Files: files, Previous: prev})
			if err != nil {
				return err
			}
			ks, ok, err := readSchedule(tx)
			if err != nil || !ok || !ks.Pending() || ks.Fingerprint != next.fingerprint {
				return err
			}
			ks.Switched = now
			return putSetting(tx, settingSchedule, ks)
		})
	}
	if err == nil {
		s.keys.Store(next)
	}
	s.commitMu.Unlock()
	if err != nil {
		return asError("store signing state", err)
	}
	s.m.generation.Set(float64(next.gen))
	s.stale.Store(true)
	if adopted {
		s.log.Info("signing key switched by another node: this node signs with it too", "generation", next.gen, "subject", chain[0].Subject.String())
		return nil
	}
	s.log.Info("signing key switched", "generation", next.gen, "subject", chain[0].Subject.String())
	return nil
}

// remember adds fp to the replaced certificates (newest last, at most maxPrevious).
func remember(prev []string, fp string) []string {
	if fp == "" {
		return prev
	}
	out := append([]string(nil), prev...)
	out = append(out, fp)
	if len(out) > maxPrevious {
		out = out[len(out)-maxPrevious:]
	}
	return out
}

// ScheduleKey records a planned key switch, replacing any earlier schedule.
func (s *Service) ScheduleKey(ctx context.Context, ks KeySchedule) error {
	if ks.At.IsZero() || ks.Fingerprint == "" || ks.Files.Cert == "" || ks.Files.Key == "" {
		return Invalid("schedule", "a key schedule needs its moment, certificate and files")
	}
	ks.At = ks.At.UTC()
	if ks.Created.IsZero() {
		ks.Created = s.now().UTC()
	}
	ks.Switched = time.Time{}
	err := s.repo.Update(ctx, func(tx WriteTx) error { return putSetting(tx, settingSchedule, ks) })
	return asError("store key schedule", err)
}

// CompleteKeySchedule marks a pending schedule done without a switch: its key signs already (the configuration
// named it before its moment).
func (s *Service) CompleteKeySchedule(ctx context.Context) error {
	err := s.repo.Update(ctx, func(tx WriteTx) error {
		ks, ok, err := readSchedule(tx)
		if err != nil || !ok || !ks.Pending() {
			return err
		}
		ks.Switched = s.now().UTC()
		return putSetting(tx, settingSchedule, ks)
	})
	return asError("store key schedule", err)
}

// KeySchedule returns the last recorded key schedule (pending or done); ok is false when there is none.
func (s *Service) KeySchedule(ctx context.Context) (ks KeySchedule, ok bool, err error) {
	err = s.repo.View(ctx, func(tx ReadTx) error {
		ks, ok, err = readSchedule(tx)
		return err
	})
	return ks, ok, asError("read key schedule", err)
}

func readSchedule(tx ReadTx) (KeySchedule, bool, error) {
	var ks KeySchedule
	b, err := tx.Setting(settingSchedule)
	if err != nil || b == nil {
		return ks, false, err
	}
	if err := json.Unmarshal(b, &ks); err != nil {
		return ks, false, Internal("decode key schedule", err)
	}
	return ks, true, nil
}

// ActiveKeyFiles returns where the active signing key is kept in the data directory; nil when it came from the
// configuration.
func (s *Service) ActiveKeyFiles(ctx context.Context) (*KeyFiles, error) {
	var st signingState
	err := s.repo.View(ctx, func(tx ReadTx) error {
		var err error
		st, err = readSigning(tx)
		return err
	})
	if err != nil {
		return nil, asError("read signing state", err)
	}
	if st.Fingerprint != s.keys.Load().fingerprint {
		return nil, nil
	}
	return st.Files, nil
}
