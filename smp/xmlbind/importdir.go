package xmlbind

import (
	"context"
	"os"
	"path/filepath"
	"sort"

	"github.com/beevik/etree"

	"github.com/signpost-project/signpost/smp"
)

// ImportDir loads every *.xml file of dir into svc as the system: ServiceGroup and ServiceMetadata bodies of any
// flavour (a SignedServiceMetadata's signature is ignored). Service groups are loaded first; a metadata whose group
// does not exist creates it. Files are taken in name order.
func ImportDir(ctx context.Context, svc *smp.Service, dir string, lim Limits) (smp.ImportStats, error) {
	var st smp.ImportStats
	names, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil {
		return st, err
	}
	sort.Strings(names)
	var metas []string
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		body, err := os.ReadFile(n)
		if err != nil {
			return st, &smp.ImportError{Where: n, Err: err}
		}
		if rootTag(body) != "ServiceGroup" {
			metas = append(metas, n)
			continue
		}
		st.Groups++
		sg, err := DecodeServiceGroup(body, svc.Policy(), lim)
		if err != nil {
			return st, &smp.ImportError{Where: n, Err: err}
		}
		b, err := svc.PutBatch(ctx, []smp.ServiceGroup{sg}, nil)
		if err != nil {
			return st, &smp.ImportError{Where: n, Err: err}
		}
		st.Created, st.Replaced, st.Unchanged = st.Created+b.Created, st.Replaced+b.Replaced, st.Unchanged+b.Unchanged
	}
	for _, n := range metas {
		body, err := os.ReadFile(n)
		if err != nil {
			return st, &smp.ImportError{Where: n, Err: err}
		}
		st.Metadata++
		sm, err := DecodeServiceMetadata(body, svc.Policy(), lim)
		if err == nil && (sm.Participant.IsZero() || sm.DocumentType.IsZero()) {
			err = smp.Invalid("Redirect", "a redirect document names no participant or document type; import it as a JSON record")
		}
		if err != nil {
			return st, &smp.ImportError{Where: n, Err: err}
		}
		var groups []smp.ServiceGroup
		if _, err := svc.GetServiceGroup(ctx, sm.Participant); err != nil {
			if smp.KindOf(err) != smp.KindNotFound {
				return st, &smp.ImportError{Where: n, Err: err}
			}
			groups = []smp.ServiceGroup{{Participant: sm.Participant, InSML: true}}
		}
		b, err := svc.PutBatch(ctx, groups, []smp.ServiceMetadata{sm})
		if err != nil {
			return st, &smp.ImportError{Where: n, Err: err}
		}
		// Count the metadata only: a group made for it is not a record of the directory.
		st.Created, st.Replaced, st.Unchanged = st.Created+b.Created-len(groups), st.Replaced+b.Replaced, st.Unchanged+b.Unchanged
	}
	return st, nil
}

// rootTag returns the local name of a document's root element, or "" when it does not parse.
func rootTag(body []byte) string {
	d := etree.NewDocument()
	if err := d.ReadFromBytes(body); err != nil || d.Root() == nil {
		return ""
	}
	return d.Root().Tag
}
