package soap_test

import (
	"context"
	"errors"
	"testing"

	"github.com/signpost-project/signpost/sml/soap"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// The SMP-side client of package soapmsg against the real listener (what `signpost dev` uses to register SMP-DEV).
func TestClient(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	c := &soapmsg.Client{BaseURL: e.base + "/", HTTP: e.clients["smp-a"]}
	if err := c.CreateSMP(ctx, "SMP-DEV", "http://127.0.0.1:18080", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	err := c.CreateSMP(ctx, "SMP-DEV", "http://127.0.0.1:18080", "127.0.0.1")
	if !soapmsg.IsAlreadyExists(err) {
		t.Fatalf("second create: %v", err)
	}
	got, err := c.ReadSMP(ctx, "SMP-DEV")
	if err != nil || got.PublisherEndpoint.LogicalAddress != "http://127.0.0.1:18080" {
		t.Fatalf("read: %v %+v", err, got)
	}
	if err := c.CreateParticipant(ctx, "SMP-DEV", "iso6523-actorid-upis", "9915:signpost-demo"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateParticipant(ctx, "SMP-DEV", "iso6523-actorid-upis", "9915:signpost-demo"); !soapmsg.IsAlreadyExists(err) {
		t.Fatalf("second participant create: %v", err)
	}
	e.wantNAPTR(t, "9915:signpost-demo", "Meta:SMP", "http://127.0.0.1:18080")
	if err := c.DeleteParticipant(ctx, "SMP-DEV", "iso6523-actorid-upis", "9915:signpost-demo"); err != nil {
		t.Fatal(err)
	}
	err = c.DeleteParticipant(ctx, "SMP-DEV", "iso6523-actorid-upis", "9915:signpost-demo")
	var f *soapmsg.Fault
	if !errors.As(err, &f) || f.Kind != soapmsg.FaultNotFound {
		t.Fatalf("second delete: %v", err)
	}
	// Without a certificate: the typed fault comes back even with BDMSL status codes.
	b := newEnv(t, envOptions{faultStatus: soap.StatusBDMSL})
	nc := &soapmsg.Client{BaseURL: b.base, HTTP: b.clients["none"]}
	if _, err := nc.ReadSMP(ctx, "SMP-DEV"); !errors.As(err, &f) || f.Kind != soapmsg.FaultUnauthorized {
		t.Fatalf("no certificate: %v", err)
	}
}
