package console

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/auth"
)

type usersPage struct {
	Users    []auth.UserInfo
	Tokens   []smp.TokenInfo
	NewToken string // shown once, right after it was created
	NewFor   string
	Errors   map[string]string
}

func (c *Console) usersData(r *http.Request) (*usersPage, error) {
	us, err := c.o.Creds.Users(r.Context())
	if err != nil {
		return nil, err
	}
	ts, err := c.o.Creds.Tokens(r.Context())
	if err != nil {
		return nil, err
	}
	return &usersPage{Users: us, Tokens: ts, Errors: map[string]string{}}, nil
}

func (c *Console) users(w http.ResponseWriter, r *http.Request, s console.Session) {
	if !c.adminOnly(w, r, s) {
		return
	}
	d, err := c.usersData(r)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "users", s, "Users and tokens", "/users", d)
}

// usersAgain shows the users page again with an error next to a field of one of its forms.
func (c *Console) usersAgain(w http.ResponseWriter, r *http.Request, s console.Session, field string, err error) {
	d, lerr := c.usersData(r)
	if lerr != nil {
		c.fail(w, r, s, lerr)
		return
	}
	var e *smp.Error
	if !errors.As(err, &e) || e.Kind != smp.KindInvalid && e.Kind != smp.KindNotFound {
		c.fail(w, r, s, err)
		return
	}
	d.Errors[field] = e.Msg
	c.render(w, r, http.StatusBadRequest, "users", s, "Users and tokens", "/users", d)
}

func (c *Console) setUser(w http.ResponseWriter, r *http.Request, s console.Session) {
	if !c.adminOnly(w, r, s) {
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	ch := auth.UserChange{Admin: r.PostFormValue("admin") != ""}
	if pw := r.PostFormValue("password"); pw != "" {
		ch.Password = &pw
	}
	if err := c.o.Creds.SetUser(r.Context(), name, ch); err != nil {
		c.usersAgain(w, r, s, "user", err)
		return
	}
	c.o.Log.Info("smp console: user set", "audit", true, "by", s.User, "user", name, "admin", ch.Admin)
	redirect(w, r, "/users?done=user")
}

func (c *Console) createToken(w http.ResponseWriter, r *http.Request, s console.Session) {
	if !c.adminOnly(w, r, s) {
		return
	}
	user := strings.TrimSpace(r.PostFormValue("user"))
	tok, ti, err := c.o.Creds.CreateToken(r.Context(), user, r.PostFormValue("admin") != "")
	if err != nil {
		c.usersAgain(w, r, s, "token", err)
		return
	}
	c.o.Log.Info("smp console: token created", "audit", true, "by", s.User, "user", ti.User, "id", ti.ID)
	d, err := c.usersData(r)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	// Shown once, in this answer only (never in a URL): a reload does not show it again.
	d.NewToken, d.NewFor = tok, ti.User
	c.render(w, r, http.StatusOK, "users", s, "Users and tokens", "/users", d)
}

func (c *Console) revokeToken(w http.ResponseWriter, r *http.Request, s console.Session) {
	if !c.adminOnly(w, r, s) {
		return
	}
	id := r.PostFormValue("id")
	if err := c.o.Creds.RevokeToken(r.Context(), id); err != nil {
		c.usersAgain(w, r, s, "revoke", err)
		return
	}
	c.o.Log.Info("smp console: token revoked", "audit", true, "by", s.User, "id", id)
	redirect(w, r, "/users?done=revoked")
}

type keyPage struct {
	Status   smp.Status
	Schedule *smp.KeySchedule
	Soon     bool
}

func (c *Console) key(w http.ResponseWriter, r *http.Request, s console.Session) {
	if !c.adminOnly(w, r, s) {
		return
	}
	st, err := c.o.SMP.Status(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := keyPage{Status: st, Soon: st.NotAfter.Sub(c.o.Now()) < soon}
	if ks, ok, err := c.o.SMP.KeySchedule(r.Context()); err != nil {
		c.fail(w, r, s, err)
		return
	} else if ok {
		d.Schedule = &ks
	}
	c.render(w, r, http.StatusOK, "key", s, "Signing key", "/key", d)
}

type importPage struct {
	Max     int64
	Running bool // the progress list is open: the import runs while the page streams
	Result  *smp.ImportStats
	Error   string
	Took    time.Duration
}

func (c *Console) importForm(w http.ResponseWriter, r *http.Request, s console.Session) {
	if !c.adminOnly(w, r, s) {
		return
	}
	c.render(w, r, http.StatusOK, "import", s, "Import", "/import", importPage{Max: c.o.ImportMaxBytes})
}

// progressMark splits the import page: what comes before it is sent when the import starts, progress lines follow
// as batches commit (the browser shows them as they come, with no script), then the rest of the page with the result.
const progressMark = `<li class="progress-mark" hidden></li>`

// importFile runs an import of the uploaded export file (docs/smp-import.md) through smp.Service.Import, streamed
// from the request body (never held whole) under the API's body limit, and streams the page: a line per committed
// batch, then what it did. The batches committed before a refused record stay, as with `signpost smp import`.
func (c *Console) importFile(w http.ResponseWriter, r *http.Request, s console.Session) {
	if !c.adminOnly(w, r, s) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, c.o.ImportMaxBytes)
	d := importPage{Max: c.o.ImportMaxBytes}
	var part io.Reader
	mr, err := r.MultipartReader()
	if err == nil {
		for {
			p, perr := mr.NextPart()
			if perr != nil {
				err = errors.New("no file in the form: choose an export file")
				break
			}
			if p.FormName() == "file" {
				part = p
				break
			}
		}
	}
	if err != nil {
		d.Error = c.importError(err)
		c.render(w, r, http.StatusBadRequest, "import", s, "Import", "/import", d)
		return
	}
	pg := console.Page{Product: product, Title: "Import", User: s.User, Admin: s.Admin, Nav: c.nav(s), Active: "/import"}
	d.Running = true
	pg.Data = d
	head, err := c.pages.Execute("import", pg)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	before, _, _ := strings.Cut(string(head), progressMark)
	// The upload is read while the page is written (HTTP/1.1 needs full duplex for that).
	rc := http.NewResponseController(w)
	if err := rc.EnableFullDuplex(); err != nil {
		c.o.Log.Debug("smp console: import without full duplex", "err", err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, before)
	_ = rc.Flush()
	start := time.Now()
	st, err := c.o.SMP.Import(r.Context(), "upload", part, func(p smp.ImportStats) {
		fmt.Fprintf(w, "<li>%d records: %d created, %d replaced, %d unchanged</li>\n", p.Groups+p.Metadata+p.Owners, p.Created, p.Replaced, p.Unchanged)
		_ = rc.Flush()
	})
	d.Result, d.Took = &st, time.Since(start).Round(time.Millisecond)
	c.o.Log.Info("smp console: import", "audit", true, "by", s.User, "created", st.Created, "replaced", st.Replaced, "unchanged", st.Unchanged, "err", err)
	if err != nil {
		d.Error = c.importError(err)
	}
	pg.Data = d
	all, terr := c.pages.Execute("import", pg)
	if terr != nil {
		c.o.Log.Error("console page failed", "page", "import", "err", terr)
		_, _ = io.WriteString(w, "</ol><p>The page could not be shown (logged).</p>")
		return
	}
	_, after, _ := strings.Cut(string(all), progressMark)
	_, _ = io.WriteString(w, after)
}

func (c *Console) importError(err error) string {
	var mb *http.MaxBytesError
	var e *smp.Error
	switch {
	case errors.As(err, &mb):
		return fmt.Sprintf("the file is larger than %d bytes (write.max_body_bytes): use signpost smp import on the server", c.o.ImportMaxBytes)
	case errors.As(err, &e) && e.Kind == smp.KindInternal:
		c.o.Log.Error("smp console: import failed", "err", err)
		return "the import failed (logged)"
	default:
		return err.Error()
	}
}
