package soap_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/signpost-project/signpost/internal/recovery"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/soap"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// panicking is a Backend whose CreateSMP panics (a bug in a use case) and whose other calls work.
type panicking struct{ soap.Backend }

func (panicking) CreateSMP(_ context.Context, _ sml.Caller, smp sml.SMP) error {
	var byID []int
	return fmt.Errorf("unreachable: %d", byID[len(smp.ID)]) // a runtime panic (index out of range), as a bug would cause
}

// TestPanicBecomesInternalFault: a panic in a call becomes an InternalErrorFault over HTTPS, is logged with the
// stack and counted, and the server answers the next request, on the same connection and on a new one.
func TestPanicBecomesInternalFault(t *testing.T) {
	e := newEnv(t, envOptions{wrap: func(b soap.Backend) soap.Backend { return panicking{b} }})
	before := recovery.Count(soap.Edge)
	r := e.send(t, "smp-a", "smp-create.xml", nil)
	f := r.fault(t, status500, soapmsg.FaultInternal, "[ERR-105] Internal error of the SML")
	if strings.Contains(f.String, "out of range") {
		t.Errorf("the fault leaks the panic: %q", f.String)
	}
	if d := recovery.Count(soap.Edge) - before; d != 1 {
		t.Errorf("counted %v panics, want 1", d)
	}
	l := e.log.String()
	if !strings.Contains(l, "index out of range") || !strings.Contains(l, "soap_test.panicking.CreateSMP") {
		t.Errorf("the panic was not logged with its stack:\n%s", l)
	}
	// The same client (kept-alive connection) and another one go on being served.
	e.send(t, "smp-a", "smp-read-missing.xml", nil).fault(t, status500, soapmsg.FaultNotFound, "[ERR-100] ")
	e.send(t, "smp-b", "participant-list.xml", nil).fault(t, status500, soapmsg.FaultNotFound, "[ERR-100] ")
	e.send(t, "none", "bdmsl-isalive.xml", nil).ok(t)
}
