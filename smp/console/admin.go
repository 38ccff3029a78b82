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
	Max    int64
	Result *smp.ImportStats
	Error  string
	Took   time.Duration
}

func (c *Console) importForm(w http.ResponseWriter, r *http.Request, s console.Session) {
	if !c.adminOnly(w, r, s) {
		return
	}
	c.render(w, r, http.StatusOK, "import", s, "Import", "/import", importPage{Max: c.o.ImportMaxBytes})
}

// importFile runs an import of the uploaded export file (docs/smp-import.md) through smp.Service.Import, streamed
// from the request body (never held whole), and shows what it did. The batches committed before a refused
// record stay, as with `signpost smp import`.
func (c *Console) importFile(w http.ResponseWriter, r *http.Request, s console.Session) {
	if !c.adminOnly(w, r, s) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, c.o.ImportMaxBytes)
	d := importPage{Max: c.o.ImportMaxBytes}
	code := http.StatusOK
	mr, err := r.MultipartReader()
	var part io.Reader
	for err == nil {
		p, perr := mr.NextPart()
		if perr != nil {
			err = fmt.Errorf("no file in the form: choose an export file")
			break
		}
		if p.FormName() == "file" {
			part = p
			break
		}
	}
	if err == nil {
		start := time.Now()
		var st smp.ImportStats
		st, err = c.o.SMP.Import(r.Context(), "upload", part, nil)
		d.Result, d.Took = &st, time.Since(start).Round(time.Millisecond)
		c.o.Log.Info("smp console: import", "audit", true, "by", s.User, "created", st.Created, "replaced", st.Replaced, "unchanged", st.Unchanged, "err", err)
	}
	if err != nil {
		code = http.StatusBadRequest
		var mb *http.MaxBytesError
		var e *smp.Error
		switch {
		case errors.As(err, &mb):
			d.Error = fmt.Sprintf("the file is larger than %d bytes: use signpost smp import on the server", c.o.ImportMaxBytes)
		case errors.As(err, &e) && e.Kind == smp.KindInternal:
			c.o.Log.Error("smp console: import failed", "err", err)
			code, d.Error = http.StatusInternalServerError, "the import failed (logged)"
		default:
			d.Error = err.Error()
		}
	}
	c.render(w, r, code, "import", s, "Import", "/import", d)
}
