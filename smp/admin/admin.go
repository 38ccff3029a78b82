// Package admin is what the `signpost smp` admin commands work on: one API with two implementations, Client for a
// running server (its admin listener, with the admin token) and Local for a stopped one (the store opened by the
// command). The commands never need to know which.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/auth"
	"github.com/signpost-project/signpost/smp/registrar"
)

// API is the SMP's administration.
type API interface {
	Status(ctx context.Context) (smp.Status, error)
	// Groups returns a page of service groups after the participant after; next is "" on the last page.
	Groups(ctx context.Context, after string, limit int) (groups []smp.GroupSummary, next string, err error)
	CreateToken(ctx context.Context, user string, admin bool) (string, smp.TokenInfo, error)
	Tokens(ctx context.Context) ([]smp.TokenInfo, error)
	RevokeToken(ctx context.Context, id string) error
	Users(ctx context.Context) ([]auth.UserInfo, error)
	SetUser(ctx context.Context, name string, c auth.UserChange) error
	DeleteUser(ctx context.Context, name string) error
	SMLAPI
	// Bulk applies a bulk change (or counts it: op.DryRun) to every service group (bulk.go).
	Bulk(ctx context.Context, op smp.BulkOp, obs smp.BulkObserver) (smp.BulkResult, error)
	// Backup writes a consistent copy of the whole store, from one read transaction, while writes go on.
	Backup(ctx context.Context, w io.Writer) (int64, error)
}

// Errors of the client.
var (
	// ErrUnreachable reports that nothing answers at the admin address.
	ErrUnreachable = errors.New("admin: the SMP admin API is not reachable")
	// ErrUnauthorized reports that the server refused the admin token.
	ErrUnauthorized = errors.New("admin: the SMP refused the admin token")
)

// Local is the API on services the command opened itself (the server is stopped).
type Local struct {
	SMP   *smp.Service
	Creds *auth.Service
	// SML is the registrar of the configuration's SML (not running: its calls are made by the command); nil when
	// the SMP registers in no SML.
	SML *registrar.Registrar
	// Store writes the store's backup (store.DB.Backup); nil: Backup is refused.
	Store func(io.Writer) (int64, error)
	App   App // the opened SMP, for RolloverAPI (rekey.go)
}

var _ API = Local{}

func (l Local) Status(ctx context.Context) (smp.Status, error) { return l.SMP.Status(ctx) }

func (l Local) Groups(ctx context.Context, after string, limit int) ([]smp.GroupSummary, string, error) {
	return l.SMP.ListServiceGroups(ctx, after, limit)
}

func (l Local) CreateToken(ctx context.Context, user string, admin bool) (string, smp.TokenInfo, error) {
	return l.Creds.CreateToken(ctx, user, admin)
}

func (l Local) Tokens(ctx context.Context) ([]smp.TokenInfo, error) { return l.Creds.Tokens(ctx) }

func (l Local) RevokeToken(ctx context.Context, id string) error { return l.Creds.RevokeToken(ctx, id) }

func (l Local) Users(ctx context.Context) ([]auth.UserInfo, error) { return l.Creds.Users(ctx) }

func (l Local) SetUser(ctx context.Context, name string, c auth.UserChange) error {
	return l.Creds.SetUser(ctx, name, c)
}

func (l Local) DeleteUser(ctx context.Context, name string) error {
	return l.Creds.DeleteUser(ctx, name)
}

// Client is the API of a running server, through its admin listener. Errors the server reports come back as
// *smp.Error of the kind its HTTP status says.
type Client struct {
	Addr  string // HOST:PORT of the admin listener
	Token string
	HTTP  *http.Client // nil: a client with short timeouts and no proxy
}

var _ API = (*Client)(nil)

var defaultHTTP = &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
	Proxy:       nil, // loopback: never through a proxy
	DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
}}

// ReadTokenFile returns the first line of a token file.
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", fmt.Errorf("admin token: %s is empty", path)
	}
	return tok, nil
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.Addr+"/api/v1/"+path, body)
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w at %s: %w", ErrUnreachable, c.Addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e)
		if e.Error == "" {
			e.Error = resp.Status
		}
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("%w at %s: %s", ErrUnauthorized, c.Addr, e.Error)
		case http.StatusBadRequest:
			return &smp.Error{Kind: smp.KindInvalid, Msg: e.Error}
		case http.StatusNotFound:
			return &smp.Error{Kind: smp.KindNotFound, Msg: e.Error}
		case http.StatusForbidden:
			return &smp.Error{Kind: smp.KindForbidden, Msg: e.Error}
		case http.StatusBadGateway:
			return fmt.Errorf("%w: %s", ErrSML, e.Error)
		}
		return smp.Internal("admin API "+method+" "+path+": "+e.Error, nil)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return smp.Internal("admin API answer", err)
	}
	return nil
}

func (c *Client) Status(ctx context.Context) (smp.Status, error) {
	var st smp.Status
	return st, c.do(ctx, http.MethodGet, "status", nil, &st)
}

func (c *Client) Groups(ctx context.Context, after string, limit int) ([]smp.GroupSummary, string, error) {
	var page struct {
		Groups []smp.GroupSummary `json:"service_groups"`
		Next   string             `json:"next"`
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	err := c.do(ctx, http.MethodGet, "service-groups?"+q.Encode(), nil, &page)
	return page.Groups, page.Next, err
}

func (c *Client) CreateToken(ctx context.Context, user string, admin bool) (string, smp.TokenInfo, error) {
	var out struct {
		Token string `json:"token"`
		smp.TokenInfo
	}
	err := c.do(ctx, http.MethodPost, "tokens", map[string]any{"user": user, "admin": admin}, &out)
	return out.Token, out.TokenInfo, err
}

func (c *Client) Tokens(ctx context.Context) ([]smp.TokenInfo, error) {
	var out struct {
		Tokens []smp.TokenInfo `json:"tokens"`
	}
	return out.Tokens, c.do(ctx, http.MethodGet, "tokens", nil, &out)
}

func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "tokens/"+url.PathEscape(id), nil, nil)
}

func (c *Client) Users(ctx context.Context) ([]auth.UserInfo, error) {
	var out struct {
		Users []auth.UserInfo `json:"users"`
	}
	return out.Users, c.do(ctx, http.MethodGet, "users", nil, &out)
}

func (c *Client) SetUser(ctx context.Context, name string, ch auth.UserChange) error {
	return c.do(ctx, http.MethodPut, "users/"+url.PathEscape(name), ch, nil)
}

func (c *Client) DeleteUser(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "users/"+url.PathEscape(name), nil, nil)
}
