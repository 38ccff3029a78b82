package smp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// ImportStats counts what an import did.
type ImportStats struct {
	Groups, Metadata, Owners int // records read
	Created, Replaced        int // documents' models written
	Unchanged                int // records equal to what is stored: not re-signed, not rewritten
}

func (st *ImportStats) count(created, changed bool) {
	switch {
	case created:
		st.Created++
	case changed:
		st.Replaced++
	default:
		st.Unchanged++
	}
}

// ImportError locates a refused record of an import.
type ImportError struct {
	Where string // file:line or file
	Err   error
}

func (e *ImportError) Error() string { return e.Where + ": " + e.Err.Error() }
func (e *ImportError) Unwrap() error { return e.Err }

// ImportBatchSize is how many records Import writes per transaction.
const ImportBatchSize = 500

// Import loads an import file (JSON Lines, docs/smp-import.md) through the write path, ImportBatchSize records
// per transaction. A service group must come before its metadata (or exist already). It stops at the first
// refused record; batches written before stay, and re-running the import is idempotent (unchanged records are
// neither re-signed nor rewritten).
func (s *Service) Import(ctx context.Context, name string, r io.Reader, progress func(ImportStats)) (ImportStats, error) {
	var st ImportStats
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	line, first := 0, 0
	var groups []ServiceGroup
	var metas []ServiceMetadata
	flush := func() error {
		if len(groups)+len(metas) == 0 {
			return nil
		}
		b, err := s.PutBatch(ctx, groups, metas)
		if err != nil {
			return &ImportError{Where: fmt.Sprintf("%s:%d-%d", name, first, line), Err: err}
		}
		st.Created += b.Created
		st.Replaced += b.Replaced
		st.Unchanged += b.Unchanged
		groups, metas, first = groups[:0], metas[:0], 0
		if progress != nil {
			progress(st)
		}
		return nil
	}
	for sc.Scan() {
		line++
		if err := ctx.Err(); err != nil {
			return st, err
		}
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, line)
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return st, &ImportError{Where: where, Err: Invalidf("record", "not a valid record: %v", err)}
		}
		if dec.InputOffset() != int64(len(b)) {
			// A second object (or anything) after the record would otherwise be dropped without a word.
			return st, &ImportError{Where: where, Err: Invalid("record", "text after the record; one JSON object per line")}
		}
		n := 0
		for _, set := range []bool{rec.Group != nil, rec.Metadata != nil, rec.Owner != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return st, &ImportError{Where: where, Err: Invalid("record", `needs exactly one of "service_group", "service_metadata", "owner"`)}
		}
		if first == 0 {
			first = line
		}
		switch {
		case rec.Group != nil:
			st.Groups++
			sg, err := rec.Group.Model(s.policy)
			if err != nil {
				return st, &ImportError{Where: where, Err: err}
			}
			groups = append(groups, sg)
		case rec.Metadata != nil:
			st.Metadata++
			sm, err := rec.Metadata.Model(s.policy)
			if err != nil {
				return st, &ImportError{Where: where, Err: err}
			}
			metas = append(metas, sm)
		case rec.Owner != nil:
			// A user of the management API (created without credentials, or its admin flag set).
			st.Owners++
			if strings.TrimSpace(rec.Owner.Name) == "" {
				return st, &ImportError{Where: where, Err: Invalid("owner.name", "missing")}
			}
			// Counted as read only: Created/Replaced/Unchanged count service groups and metadata.
			if err := s.EnsureOwner(ctx, rec.Owner.Name, rec.Owner.Admin); err != nil {
				return st, &ImportError{Where: where, Err: err}
			}
		}
		if len(groups)+len(metas) >= ImportBatchSize {
			if err := flush(); err != nil {
				return st, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return st, &ImportError{Where: name, Err: err}
	}
	return st, flush()
}

// WriteExport writes the whole SMP in the import format.
func (s *Service) WriteExport(ctx context.Context, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := 0
	err := s.Export(ctx, func(r Record) error {
		n++
		return enc.Encode(r)
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// String summarises the counts.
func (st ImportStats) String() string {
	return fmt.Sprintf("%d service groups, %d service metadata, %d owners read; %d created, %d replaced, %d unchanged",
		st.Groups, st.Metadata, st.Owners, st.Created, st.Replaced, st.Unchanged)
}

// EnsureOwner creates a user without credentials, or sets the admin flag of an existing one (an import's owner
// records).
func (s *Service) EnsureOwner(ctx context.Context, name string, admin bool) error {
	if err := ValidUserName(name); err != nil {
		return err
	}
	err := s.repo.Update(ctx, func(tx WriteTx) error {
		u, err := tx.User(name)
		if err != nil {
			return err
		}
		if u == nil {
			u = &User{Name: name, Created: s.now().UTC().Truncate(time.Second)}
		} else if u.Admin == admin {
			return nil
		}
		u.Admin = admin
		return tx.PutUser(*u)
	})
	return asError("store user", err)
}

// Count records a record's outcome.
func (st *ImportStats) Count(created, changed bool) { st.count(created, changed) }
