package smp

import (
	"context"
	"crypto"
	"crypto/x509"

	"github.com/signpost-project/signpost/identifier"
)

// Rekey switches to a new signing key (the next generation, recorded in the store) at once, so every write from
// now on is signed with it, then re-signs every stored document in batches (see Resign). Each document is
// replaced atomically; until its turn comes a reader gets it signed by the old key.
func (s *Service) Rekey(ctx context.Context, key crypto.Signer, chain []*x509.Certificate, progress func(done int)) (int, error) {
	if err := s.SwitchKey(ctx, key, chain, nil); err != nil {
		return 0, err
	}
	return s.Resign(ctx, progress)
}

// ResignBatch is how many service groups Resign handles per transaction.
const ResignBatch = 200

// Resign renders and signs again every document not signed by the current key generation or not rendered for
// the current layout (flavours, public URL), ResignBatch service groups (with their metadata) per commit, and
// drops documents of flavours no longer served. Signing happens outside the write transaction, as for every
// write. It returns how many service groups it rewrote. Only one Resign runs at a time.
func (s *Service) Resign(ctx context.Context, progress func(done int)) (int, error) {
	s.resignMu.Lock()
	defer s.resignMu.Unlock()
	startGen := s.keys.Load().gen
	var layoutChanged bool
	if err := s.repo.View(ctx, func(tx ReadTx) error {
		b, err := tx.Setting(settingLayout)
		layoutChanged = string(b) != s.layout
		return err
	}); err != nil {
		return 0, asError("read layout", err)
	}
	after := ""
	done, rewrote := 0, 0
	for {
		if err := ctx.Err(); err != nil {
			return rewrote, err
		}
		var batch []identifier.ID
		if err := s.repo.View(ctx, func(tx ReadTx) error {
			gs, err := tx.Groups(after, ResignBatch)
			for _, g := range gs {
				batch = append(batch, g.Group.Participant)
			}
			return err
		}); err != nil {
			return rewrote, asError("list service groups", err)
		}
		if len(batch) == 0 {
			break
		}
		after = batch[len(batch)-1].String()
		// The groups of a batch are independent: a group written meanwhile is planned and signed again alone.
		n, err := s.writeEach(ctx, batch, func(tx ReadTx, p identifier.ID, k *keys) (*change, error) {
			return s.planResign(tx, p, k, layoutChanged)
		})
		if err != nil {
			return rewrote, err
		}
		rewrote += n
		done += len(batch)
		s.m.resigned.Add(float64(n))
		if progress != nil {
			progress(done)
		}
	}
	if s.keys.Load().gen != startGen {
		// The key changed meanwhile: documents of this pass may carry the older key; the Rekey that changed it
		// runs another pass.
		return rewrote, nil
	}
	gen := startGen
	err := s.repo.Update(ctx, func(tx WriteTx) error {
		st, err := readSigning(tx)
		if err != nil {
			return err
		}
		if st.Pending && st.Generation == gen {
			st.Pending = false
			if err := putSetting(tx, settingSigning, st); err != nil {
				return err
			}
		}
		return tx.PutSetting(settingLayout, []byte(s.layout))
	})
	if err != nil {
		return rewrote, asError("store state", err)
	}
	s.staleMu.Lock()
	s.resigned++
	s.stale.Store(false)
	s.staleMu.Unlock()
	if layoutChanged {
		s.cache.clear()
	}
	return rewrote, nil
}

// planResign plans re-rendering one group's documents where needed; nil when nothing is to be done.
func (s *Service) planResign(tx ReadTx, p identifier.ID, k *keys, force bool) (*change, error) {
	c, err := open(tx, p)
	if err != nil || !c.exists {
		return nil, err // deleted meanwhile
	}
	if force {
		for _, f := range AllFlavours {
			if s.Serves(f) {
				continue
			}
			c.delDocs = append(c.delDocs, DocKey{Flavour: f, Participant: p})
			for i := range c.metas {
				c.delDocs = append(c.delDocs, DocKey{Flavour: f, Participant: p, DocType: c.metas[i].DocumentType})
			}
		}
	}
	cur, err := s.current(tx, p, identifier.ID{}, k.gen)
	if err != nil {
		return nil, err
	}
	if force || !cur {
		c.renderGroup = true
	}
	for i := range c.metas {
		cur, err := s.current(tx, p, c.metas[i].DocumentType, k.gen)
		if err != nil {
			return nil, err
		}
		if force || !cur {
			if err := s.renderMetadata(c, &c.metas[i], k); err != nil {
				return nil, err
			}
		}
	}
	if err := s.finish(c, k); err != nil {
		return nil, err
	}
	if !c.touched() {
		return nil, nil
	}
	return c, nil
}
