package admin

import (
	"context"
	"net/http"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/httpapi"
)

// RolloverAPI is the signing key rollover and the participant migrations, on a running server (Client) or on a
// stopped one (Local with its App).
type RolloverAPI interface {
	Rekey(ctx context.Context, r httpapi.RekeyRequest) (httpapi.RekeyResult, error)
	MigrateOut(ctx context.Context, participant string, cancel bool) (httpapi.MigrationResult, error)
	MigrateIn(ctx context.Context, participant, key string) (httpapi.MigrationResult, error)
}

// App is what Local needs of the opened SMP for RolloverAPI (implemented by *app.App).
type App interface {
	httpapi.Rollover
	// WaitResign waits for the background re-signing (a stopped store re-signs before the command ends).
	WaitResign()
}

var (
	_ RolloverAPI = Local{}
	_ RolloverAPI = (*Client)(nil)
)

func (l Local) app() (App, error) {
	if l.App == nil {
		return nil, smp.Internal("admin: no SMP app opened for this command", nil)
	}
	return l.App, nil
}

func (l Local) parse(participant string) (identifier.ID, error) {
	p, err := l.SMP.Policy().Parse(identifier.Participant, participant)
	if err != nil {
		return p, smp.Invalidf("participant", "%q: %v", participant, err)
	}
	return p, nil
}

// Rekey switches (and re-signs every document before it returns) or schedules the switch.
func (l Local) Rekey(ctx context.Context, r httpapi.RekeyRequest) (httpapi.RekeyResult, error) {
	a, err := l.app()
	if err != nil {
		return httpapi.RekeyResult{}, err
	}
	res, err := a.Rekey(ctx, r)
	if err == nil && r.At == "" {
		a.WaitResign()
	}
	return res, err
}

func (l Local) MigrateOut(ctx context.Context, participant string, cancel bool) (httpapi.MigrationResult, error) {
	a, err := l.app()
	if err != nil {
		return httpapi.MigrationResult{}, err
	}
	p, err := l.parse(participant)
	if err != nil {
		return httpapi.MigrationResult{}, err
	}
	return a.MigrateOut(ctx, p, cancel)
}

func (l Local) MigrateIn(ctx context.Context, participant, key string) (httpapi.MigrationResult, error) {
	a, err := l.app()
	if err != nil {
		return httpapi.MigrationResult{}, err
	}
	p, err := l.parse(participant)
	if err != nil {
		return httpapi.MigrationResult{}, err
	}
	return a.MigrateIn(ctx, p, key)
}

func (c *Client) Rekey(ctx context.Context, r httpapi.RekeyRequest) (httpapi.RekeyResult, error) {
	var out httpapi.RekeyResult
	return out, c.do(ctx, http.MethodPost, "signing-key", r, &out)
}

func (c *Client) MigrateOut(ctx context.Context, participant string, cancel bool) (httpapi.MigrationResult, error) {
	var out httpapi.MigrationResult
	return out, c.do(ctx, http.MethodPost, "migrations/out", httpapi.MigrationRequest{Participant: participant, Cancel: cancel}, &out)
}

func (c *Client) MigrateIn(ctx context.Context, participant, key string) (httpapi.MigrationResult, error) {
	var out httpapi.MigrationResult
	return out, c.do(ctx, http.MethodPost, "migrations/in", httpapi.MigrationRequest{Participant: participant, Key: key}, &out)
}
