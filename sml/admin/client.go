package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/signpost-project/signpost/sml"
)

var (
	// ErrUnreachable reports that the admin API could not be reached (nothing listens, or it does not answer).
	ErrUnreachable = errors.New("admin: the SML admin API is not reachable")
	// ErrUnauthorized reports that the server refused the admin token.
	ErrUnauthorized = errors.New("admin: the SML refused the admin token")
)

// Client runs the API against a running server's admin listener. Errors the server reports are *sml.Error
// values of the kind it sent.
type Client struct {
	// Addr is the admin listener's HOST:PORT.
	Addr string
	// Token is the admin token.
	Token string
	// HTTP is the client to use; nil uses one with connection and response-header timeouts and no overall
	// timeout (an import or export runs as long as it makes progress; cancel the context to stop it).
	HTTP *http.Client
}

var _ API = (*Client)(nil)

var defaultHTTP = &http.Client{Transport: &http.Transport{
	Proxy:                 nil, // loopback: never through a proxy
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	ResponseHeaderTimeout: time.Minute,
	IdleConnTimeout:       30 * time.Second,
}}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// do sends a request and returns the response when its status is want; otherwise it returns the server's error.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, want int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.Addr+path, body)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	if resp.StatusCode == want {
		return resp, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, fmt.Errorf("%w at %s: is the token file the one the server uses (admin.token_file)?", ErrUnauthorized, c.Addr)
	}
	return nil, c.answerError(resp)
}

// transportError is the error of a request that got no answer: the context's when it ended, else ErrUnreachable
// with the cause.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("admin: %w", ctx.Err())
	}
	return fmt.Errorf("%w at %s: %w", ErrUnreachable, c.Addr, err)
}

// answerError decodes the JSON error of a refused request.
func (c *Client) answerError(resp *http.Response) error {
	var body struct {
		Error *ErrorBody `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(b, &body); err != nil || body.Error == nil {
		return fmt.Errorf("%w (%s at %s answered %s)", errNotAdminAPI, resp.Request.Method, c.Addr, resp.Status)
	}
	return &sml.Error{Kind: kindOf(body.Error.Kind), Msg: body.Error.Message}
}

func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	resp, err := c.do(ctx, http.MethodGet, path, nil, http.StatusOK)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("admin: %w", ctx.Err())
		}
		return fmt.Errorf("%w: GET %s: %v", errNotAdminAPI, path, err)
	}
	return nil
}

// Status implements API.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.getJSON(ctx, "/api/v1/status", &st)
	return st, err
}

// SMPs implements API.
func (c *Client) SMPs(ctx context.Context) ([]SMP, error) {
	var out struct {
		SMPs []SMP `json:"smps"`
	}
	err := c.getJSON(ctx, "/api/v1/smps", &out)
	return out.SMPs, err
}

// ExportZone implements API. An export that the server could not finish is an error, never a short zone.
func (c *Client) ExportZone(ctx context.Context, w io.Writer, zone string) error {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/zones/"+url.PathEscape(zone)+"/export", nil, http.StatusOK)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("admin: %w", ctx.Err())
		}
		return fmt.Errorf("admin: zone export of %s from %s broke off: %w", zone, c.Addr, err)
	}
	if msg := resp.Trailer.Get(ErrorTrailer); msg != "" {
		return &sml.Error{Kind: sml.KindInternal, Msg: "the server could not finish the zone export: " + msg}
	}
	return nil
}

// Import implements API. The file is sent as it is read; the server commits batch by batch and reports each.
func (c *Client) Import(ctx context.Context, r io.Reader, batch int, progress func(ImportEvent)) (ImportResult, error) {
	path := "/api/v1/import"
	if batch > 0 {
		path += "?batch=" + strconv.Itoa(batch)
	}
	resp, err := c.do(ctx, http.MethodPost, path, io.NopCloser(r), http.StatusOK)
	if err != nil {
		return ImportResult{}, err
	}
	defer resp.Body.Close()
	var last ImportEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		var ev ImportEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return last.Result, fmt.Errorf("%w: import progress line %q: %v", errNotAdminAPI, strings.TrimSpace(sc.Text()), err)
		}
		last = ev
		switch {
		case ev.Error != nil:
			return ev.Result, &sml.Error{Kind: kindOf(ev.Error.Kind), Msg: ev.Error.Message}
		case ev.Done:
			return ev.Result, nil
		case progress != nil:
			progress(ev)
		}
	}
	if ctx.Err() != nil {
		return last.Result, fmt.Errorf("admin: %w", ctx.Err())
	}
	err = sc.Err()
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return last.Result, fmt.Errorf("admin: the server at %s ended the import without saying how it ended (batches up to line %d are committed): %w",
		c.Addr, last.Line, err)
}

// Backup implements API: the server's online backup, written to w. A backup the server could not finish is an
// error, never a short file.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/backup", nil, http.StatusOK)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return n, fmt.Errorf("admin: %w", ctx.Err())
		}
		return n, fmt.Errorf("admin: backup from %s broke off: %w", c.Addr, err)
	}
	if msg := resp.Trailer.Get(ErrorTrailer); msg != "" {
		return n, &sml.Error{Kind: sml.KindInternal, Msg: "the server could not finish the backup: " + msg}
	}
	return n, nil
}

// Participant implements API.
func (c *Client) Participant(ctx context.Context, id string) ([]ParticipantRecords, error) {
	var out struct {
		Participants []ParticipantRecords `json:"participants"`
	}
	err := c.getJSON(ctx, "/api/v1/participants/"+url.PathEscape(id), &out)
	return out.Participants, err
}
