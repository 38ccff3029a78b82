package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/auth"
)

// ServiceGroupPage is the answer of GET /api/v1/service-groups.
type ServiceGroupPage struct {
	ServiceGroups []smp.GroupSummary `json:"service_groups"`
	// Next is the after= value of the next page; empty on the last page.
	Next string `json:"next,omitempty"`
}

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	User  string `json:"user"`
	Admin bool   `json:"admin,omitempty"`
}

// NewToken is the answer of POST /api/v1/tokens: the token, shown once.
type NewToken struct {
	Token string `json:"token"`
	smp.TokenInfo
}

// TokenList is the answer of GET /api/v1/tokens.
type TokenList struct {
	Tokens []smp.TokenInfo `json:"tokens"`
}

func (a *api) listGroups(c *gin.Context) {
	limit, after, ok := a.page(c)
	if !ok {
		return
	}
	groups, next, err := a.svc.ListServiceGroups(c.Request.Context(), after, limit)
	if err != nil {
		a.jsonFail(c, err)
		return
	}
	a.json(c, http.StatusOK, ServiceGroupPage{ServiceGroups: groups, Next: next})
}

// page reads the paging parameters of a listing: limit (1 to 1000, default 100) and after (a participant, in its
// canonical form). On an error it has answered already.
func (a *api) page(c *gin.Context) (limit int, after string, ok bool) {
	limit = 100
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			a.jsonFail(c, smp.Invalid("limit", strconv.Quote(v)+" is not a number from 1 to 1000"))
			return 0, "", false
		}
		limit = n
	}
	if after = c.Query("after"); after != "" {
		id, err := a.svc.Policy().Parse(identifier.Participant, after)
		if err != nil {
			a.jsonFail(c, smp.Invalid("after", err.Error()))
			return 0, "", false
		}
		after = id.String()
	}
	return limit, after, true
}

func (a *api) listTokens(c *gin.Context) {
	ts, err := a.o.Creds.Tokens(c.Request.Context())
	if err != nil {
		a.jsonFail(c, err)
		return
	}
	if ts == nil {
		ts = []smp.TokenInfo{}
	}
	a.json(c, http.StatusOK, TokenList{Tokens: ts})
}

func (a *api) createToken(c *gin.Context) {
	var req TokenRequest
	dec := json.NewDecoder(io.LimitReader(c.Request.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		a.jsonFail(c, smp.Invalid("body", "not a token request {\"user\": NAME, \"admin\": BOOL}: "+err.Error()))
		return
	}
	tok, ti, err := a.o.Creds.CreateToken(c.Request.Context(), req.User, req.Admin)
	if err != nil {
		a.jsonFail(c, err)
		return
	}
	a.log.Info("smp token created", logging.Audit, "by", principal(c).User, "user", ti.User, "id", ti.ID, "admin", req.Admin)
	a.json(c, http.StatusCreated, NewToken{Token: tok, TokenInfo: ti})
}

// param is a path parameter decoded once (routes hand parameters over still escaped: see newEngine). On an error
// it has answered already.
func (a *api) param(c *gin.Context, name string) (string, bool) {
	v, err := url.PathUnescape(c.Param(name))
	if err != nil {
		a.jsonFail(c, smp.Invalid(name, "bad percent-encoding in the path: "+err.Error()))
		return "", false
	}
	return v, true
}

func (a *api) revokeToken(c *gin.Context) {
	id, ok := a.param(c, "id")
	if !ok {
		return
	}
	if err := a.o.Creds.RevokeToken(c.Request.Context(), id); err != nil {
		a.jsonFail(c, err)
		return
	}
	a.log.Info("smp token revoked", logging.Audit, "by", principal(c).User, "id", id)
	a.json(c, http.StatusOK, map[string]string{"revoked": id})
}

func (a *api) json(c *gin.Context, code int, v any) {
	c.Header("Content-Type", "application/json")
	c.Header("Cache-Control", "no-store")
	c.Status(code)
	enc := json.NewEncoder(c.Writer)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (a *api) serverStatus(c *gin.Context) {
	st, err := a.svc.Status(c.Request.Context())
	if err != nil {
		a.jsonFail(c, err)
		return
	}
	a.json(c, http.StatusOK, st)
}

// UserList is the answer of GET /api/v1/users.
type UserList struct {
	Users []auth.UserInfo `json:"users"`
}

func (a *api) listUsers(c *gin.Context) {
	us, err := a.o.Creds.Users(c.Request.Context())
	if err != nil {
		a.jsonFail(c, err)
		return
	}
	a.json(c, http.StatusOK, UserList{Users: us})
}

// setUser is PUT /api/v1/users/NAME with {"admin": BOOL, "password": "..."} (password omitted: unchanged; "":
// removed).
func (a *api) setUser(c *gin.Context) {
	var req auth.UserChange
	dec := json.NewDecoder(io.LimitReader(c.Request.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		a.jsonFail(c, smp.Invalid("body", "not a user change {\"admin\": BOOL, \"password\": TEXT}: "+err.Error()))
		return
	}
	name, ok := a.param(c, "name")
	if !ok {
		return
	}
	if err := a.o.Creds.SetUser(c.Request.Context(), name, req); err != nil {
		a.jsonFail(c, err)
		return
	}
	a.log.Info("smp user set", logging.Audit, "by", principal(c).User, "user", name, "admin", req.Admin, "password_changed", req.Password != nil)
	a.json(c, http.StatusOK, map[string]any{"user": name, "admin": req.Admin})
}

func (a *api) deleteUser(c *gin.Context) {
	name, ok := a.param(c, "name")
	if !ok {
		return
	}
	if err := a.o.Creds.DeleteUser(c.Request.Context(), name); err != nil {
		a.jsonFail(c, err)
		return
	}
	a.log.Info("smp user deleted", logging.Audit, "by", principal(c).User, "user", name)
	a.json(c, http.StatusOK, map[string]string{"deleted": name})
}
