package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/httpapi"
)

// The long operations of the API: a bulk change and an online backup. Through a running server both stream
// (NDJSON progress lines; the store's bytes), so the client has no overall timeout for them: the caller's
// context bounds them.

// Bulk implements API on the stopped store.
func (l Local) Bulk(ctx context.Context, op smp.BulkOp, obs smp.BulkObserver) (smp.BulkResult, error) {
	return l.SMP.Bulk(ctx, smp.System, op, obs)
}

// Backup implements API on the stopped store.
func (l Local) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if l.Store == nil {
		return 0, errors.New("admin: backup: no store opened")
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return l.Store(w)
}

// Bulk implements API through the server: the change runs there, as the admin token's user, and its progress
// comes back line by line.
func (c *Client) Bulk(ctx context.Context, op smp.BulkOp, obs smp.BulkObserver) (smp.BulkResult, error) {
	b, err := json.Marshal(op)
	if err != nil {
		return smp.BulkResult{}, err
	}
	resp, err := c.send(ctx, http.MethodPost, "bulk", bytes.NewReader(b), "application/json")
	if err != nil {
		return smp.BulkResult{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l httpapi.BulkLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return smp.BulkResult{}, smp.Internal("admin API bulk answer", err)
		}
		switch {
		case l.Group != nil:
			if obs.Group != nil {
				obs.Group(*l.Group)
			}
		case l.Progress != nil:
			if obs.Progress != nil {
				obs.Progress(l.Progress.Done, l.Progress.Total)
			}
		case l.Result != nil:
			return *l.Result, nil
		case l.Error != nil:
			return smp.BulkResult{}, statusError(l.Error.Status, l.Error.Message, c.Addr, "bulk")
		}
	}
	if ctx.Err() != nil {
		return smp.BulkResult{}, ctx.Err()
	}
	err = sc.Err()
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return smp.BulkResult{}, smp.Internal(fmt.Sprintf("the server at %s ended the bulk change without saying how it ended "+
		"(the groups it reported are changed; running the change again finishes the rest)", c.Addr), err)
}

// Backup implements API through the server: its online backup, written to w. A backup the server could not
// finish is an error, never a short copy.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := c.send(ctx, http.MethodGet, "backup", nil, "")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		return n, fmt.Errorf("admin: backup from %s broke off: %w", c.Addr, err)
	}
	if msg := resp.Trailer.Get(httpapi.ErrorTrailer); msg != "" {
		return n, smp.Internal("the server could not finish the backup: "+msg, nil)
	}
	return n, nil
}

// streamHTTP is the client of the streamed answers: like defaultHTTP, without its overall timeout.
var streamHTTP = &http.Client{Transport: defaultHTTP.Transport}

// send makes a request whose answer the caller reads as it comes (it closes the body). An answer other than 2xx
// is an error, as for do.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.Addr+"/api/v1/"+path, body)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hc := c.HTTP
	if hc == nil {
		hc = streamHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w at %s: %w", ErrUnreachable, c.Addr, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var e struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e)
	if e.Error == "" {
		e.Error = resp.Status
	}
	return nil, statusError(resp.StatusCode, e.Error, c.Addr, method+" "+path)
}

// statusError is the error of an answer with an HTTP status other than 2xx.
func statusError(code int, msg, addr, what string) error {
	switch code {
	case http.StatusUnauthorized:
		return fmt.Errorf("%w at %s: %s", ErrUnauthorized, addr, msg)
	case http.StatusBadRequest:
		return &smp.Error{Kind: smp.KindInvalid, Msg: msg}
	case http.StatusNotFound:
		return &smp.Error{Kind: smp.KindNotFound, Msg: msg}
	case http.StatusForbidden:
		return &smp.Error{Kind: smp.KindForbidden, Msg: msg}
	}
	return smp.Internal("admin API "+what+": "+msg, nil)
}
