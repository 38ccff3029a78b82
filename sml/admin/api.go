// Package admin is the SML's admin API: a JSON API on the server's admin listener (loopback, bearer token) that
// the `signpost sml` admin commands use while the server runs, and the same operations run on the store directly
// (Local) when it is stopped. Routes and wire format: docs/sml-admin.md.
//
//	GET  /api/v1/status              zones, serials, participant and SMP counts
//	GET  /api/v1/smps                every registered SMP
//	GET  /api/v1/zones/{zone}/export the zone as an RFC 1035 master file (text/dns), as `sml export-zone` writes it
//	POST /api/v1/import?batch=N      a JSON Lines import file (docs/sml-import.md); answers JSON Lines of progress
//	GET  /api/v1/participants/{id}   one participant in every domain that has it, with its SMP and records
//	GET  /api/v1/backup              a consistent copy of the store, taken online (application/octet-stream)
//	GET  /api/v1/migrations          the pending participant migrations
//	GET  /api/v1/certificate-changes the certificate changes (PrepareChangeCertificate, ChangeCertificate)
//	GET  /api/v1/expiring-certificates?within=720h  SMPs whose owner certificate expires within the duration
package admin

import (
	"context"
	"io"
	"time"

	"github.com/signpost-project/signpost/sml"
)

// API is what the admin commands do. Client runs it against a running server, Local on a stopped server's store.
type API interface {
	// Status returns every configured zone with its serial and counts.
	Status(ctx context.Context) (Status, error)
	// SMPs returns every registered SMP, ordered by domain, then ID.
	SMPs(ctx context.Context) ([]SMP, error)
	// ExportZone writes the zone as an RFC 1035 master file, from one consistent snapshot.
	ExportZone(ctx context.Context, w io.Writer, zone string) error
	// Import reads a JSON Lines import file and commits it in transactions of batch participants; progress, when
	// set, is called after each committed batch. On an error the result counts what was committed before it.
	Import(ctx context.Context, r io.Reader, batch int, progress func(ImportEvent)) (ImportResult, error)
	// Participant returns the participant id ("scheme::value") in every domain that has it, with the records the
	// zone publishes for it.
	Participant(ctx context.Context, id string) ([]ParticipantRecords, error)
	// Backup writes a consistent copy of the whole store, from one read transaction, while writes go on.
	Backup(ctx context.Context, w io.Writer) (int64, error)
	// Migrations returns the pending participant migrations, by domain and participant.
	Migrations(ctx context.Context) ([]Migration, error)
	// CertificateChanges returns the certificate changes, scheduled (pending) and done.
	CertificateChanges(ctx context.Context) ([]CertificateChange, error)
	// ExpiringCertificates returns the SMPs whose owner certificate expires within the duration, or whose expiry
	// the SML has not seen yet.
	ExpiringCertificates(ctx context.Context, within time.Duration) ([]ExpiringCertificate, error)
}

// Backend is what the admin API needs from the SML (an *sml.Service).
type Backend interface {
	Domains() []sml.Domain
	Stats() ([]sml.ZoneStats, error)
	ListSMPs(ctx context.Context) ([]sml.SMP, error)
	ExportZone(w io.Writer, zone string) error
	Import(ctx context.Context, b sml.ImportBatch) (sml.ImportResult, error)
	ShowParticipant(ctx context.Context, raw string) ([]sml.ParticipantInfo, error)
	ParticipantCounts(ctx context.Context) (map[string]int, error)
	Migrations(ctx context.Context) ([]sml.Migration, error)
	CertChanges(ctx context.Context) ([]sml.CertChange, error)
	ExpiringCertificates(ctx context.Context, before time.Time) ([]sml.CertificateStatus, error)
}

// Status is the answer of GET /api/v1/status.
type Status struct {
	Zones []ZoneStatus `json:"zones"`
	// SMPs and Participants are the totals over every zone.
	SMPs         int   `json:"smps"`
	Participants int64 `json:"participants"`
}

// ZoneStatus is one configured domain's zone.
type ZoneStatus struct {
	Zone string `json:"zone"`
	// Records lists what the zone publishes per participant: naptr, cname.
	Records        []string `json:"records"`
	Serial         uint32   `json:"serial"`
	Participants   int64    `json:"participants"`
	SMPs           int      `json:"smps"`
	JournalEntries uint64   `json:"journal_entries"`
}

// SMP is a registered SMP.
type SMP struct {
	ID              string    `json:"id"`
	Domain          string    `json:"domain"`
	LogicalAddress  string    `json:"logical_address"`
	PhysicalAddress string    `json:"physical_address,omitempty"`
	Owner           string    `json:"owner"`
	Created         time.Time `json:"created"`
	Updated         time.Time `json:"updated"`
	// Participants is how many participants the SMP has (in the listing; 0 elsewhere).
	Participants int `json:"participants"`
}

// ParticipantRecords is one domain's registration of a participant.
type ParticipantRecords struct {
	Participant string    `json:"participant"`
	Domain      string    `json:"domain"`
	Service     string    `json:"service,omitempty"`
	SMP         SMP       `json:"smp"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	// Records are the zone's records of the participant, in master-file form.
	Records []string `json:"records"`
}

// Counts says what an import did to one kind of entry.
type Counts struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// ImportResult counts what an import committed.
type ImportResult struct {
	SMPs         Counts `json:"smps"`
	Participants Counts `json:"participants"`
}

func (r *ImportResult) add(o sml.ImportResult) {
	r.SMPs.Created += o.SMPsCreated
	r.SMPs.Updated += o.SMPsUpdated
	r.SMPs.Unchanged += o.SMPsUnchanged
	r.Participants.Created += o.Created
	r.Participants.Updated += o.Updated
	r.Participants.Unchanged += o.Unchanged
}

// ImportEvent is one line of the answer to POST /api/v1/import: one after each committed batch, then one with
// Done or Error set.
type ImportEvent struct {
	// Line is the last line of the file that the committed batches cover.
	Line int `json:"line,omitempty"`
	// Result is the total committed so far.
	Result ImportResult `json:"result"`
	// Done marks the last event of an import that read the whole file.
	Done bool `json:"done,omitempty"`
	// Error ends an import that stopped; the batches before it are committed.
	Error *ErrorBody `json:"error,omitempty"`
}

// ErrorBody is the error of an answer: {"error": {"kind": ..., "message": ...}}. Kind is an sml.Kind's name
// ("bad request", "not found", "unauthorized", "already exists", "internal error"); an internal error's message
// says nothing about its cause, which the server logs.
type ErrorBody struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Local runs the API on a Backend in this process: the admin commands with the server stopped, and the HTTP
// handler with it running.
type Local struct {
	B Backend
	// Store writes the store's backup (store.DB.Backup); nil: Backup is refused.
	Store func(w io.Writer) (int64, error)
}

var _ API = Local{}

// Status implements API.
func (l Local) Status(ctx context.Context) (Status, error) {
	stats, err := l.B.Stats()
	if err != nil {
		return Status{}, err
	}
	smps, err := l.B.ListSMPs(ctx)
	if err != nil {
		return Status{}, err
	}
	perZone := map[string]int{}
	for _, s := range smps {
		perZone[s.Domain]++
	}
	records := map[string][]string{}
	for _, d := range l.B.Domains() {
		var r []string
		if d.NAPTR {
			r = append(r, "naptr")
		}
		if d.CNAME {
			r = append(r, "cname")
		}
		records[d.Zone] = r
	}
	st := Status{Zones: make([]ZoneStatus, 0, len(stats)), SMPs: len(smps)}
	for _, z := range stats {
		st.Zones = append(st.Zones, ZoneStatus{Zone: z.Zone, Records: records[z.Zone], Serial: z.Serial,
			Participants: z.Participants, SMPs: perZone[z.Zone], JournalEntries: z.JournalEntries})
		st.Participants += z.Participants
	}
	return st, nil
}

// SMPs implements API.
func (l Local) SMPs(ctx context.Context) ([]SMP, error) {
	smps, err := l.B.ListSMPs(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := l.B.ParticipantCounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]SMP, len(smps))
	for i, s := range smps {
		out[i] = smpOf(s)
		out[i].Participants = counts[s.ID]
	}
	return out, nil
}

func smpOf(s sml.SMP) SMP {
	return SMP{ID: s.ID, Domain: s.Domain, LogicalAddress: s.LogicalAddress, PhysicalAddress: s.PhysicalAddress,
		Owner: s.Owner, Created: s.Created, Updated: s.Updated}
}

// Participant implements API.
func (l Local) Participant(ctx context.Context, id string) ([]ParticipantRecords, error) {
	infos, err := l.B.ShowParticipant(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]ParticipantRecords, len(infos))
	for i, in := range infos {
		p := in.Participant
		out[i] = ParticipantRecords{Participant: p.ID.String(), Domain: p.Domain, Service: p.Service, SMP: smpOf(in.SMP),
			Created: p.Created, Updated: p.Updated, Records: in.Records}
	}
	return out, nil
}

// Backup implements API.
func (l Local) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if l.Store == nil {
		return 0, &sml.Error{Kind: sml.KindInternal, Msg: "no store to back up"}
	}
	return l.Store(ctxWriter{ctx: ctx, w: w})
}

// ExportZone implements API.
func (l Local) ExportZone(ctx context.Context, w io.Writer, zone string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.B.ExportZone(ctxWriter{ctx: ctx, w: w}, zone)
}

// ctxWriter fails its writes once ctx ends, so that an export stops when it is interrupted.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(b)
}

// Import implements API.
func (l Local) Import(ctx context.Context, r io.Reader, batch int, progress func(ImportEvent)) (ImportResult, error) {
	var total ImportResult
	err := sml.ReadImport(ctxReader{ctx: ctx, r: r}, batch, func(b sml.ImportBatch) error {
		res, err := l.B.Import(ctx, b)
		total.add(res)
		if err == nil && progress != nil {
			progress(ImportEvent{Line: lastLine(b), Result: total})
		}
		return err
	})
	if err == nil {
		err = ctx.Err()
	}
	return total, err
}

// ctxReader fails its reads once ctx ends, so that an import stops when it is interrupted.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

func lastLine(b sml.ImportBatch) int {
	n := 0
	if l := len(b.ParticipantLines); l > 0 {
		n = b.ParticipantLines[l-1]
	}
	if l := len(b.SMPLines); l > 0 && b.SMPLines[l-1] > n {
		n = b.SMPLines[l-1]
	}
	return n
}
