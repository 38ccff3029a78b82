package registrar_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/testproc"
	"github.com/signpost-project/signpost/smp"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

// TestKilledSMPRegistersAfterRestart: an SMP whose SML is down acknowledges writes (their intents pending), is
// killed with SIGKILL, and started again once the SML is back: every acknowledged participant gets registered,
// with no one acting.
func TestKilledSMPRegistersAfterRestart(t *testing.T) {
	if path := os.Getenv("SIGNPOST_SMP_CHILD"); path != "" {
		childSMP(path)
		return
	}
	s := newStack(t, "")
	s.stopSML()
	cfg := s.smpConfig(smpOptions{})
	acked := testproc.KillAfterAcks(t, "TestKilledSMPRegistersAfterRestart", "SIGNPOST_SMP_CHILD="+cfg.File(), 40)
	s.startSML()
	n := &smpNode{cfg: cfg}
	n.start(t)
	t.Cleanup(n.stop)
	n.waitDrained(t)
	for _, p := range acked {
		if r := n.registration(t, p); r.State != smp.RegRegistered {
			t.Errorf("%s: %+v after the restart, want registered", p, r)
		}
		if !s.smlHas(t, p) {
			t.Errorf("%s acknowledged before SIGKILL, not in the SML's DNS after the restart", p)
		}
	}
}

// childSMP serves the SMP of the configuration at path, with its SML down, and publishes service groups,
// reporting each once PutServiceGroup has returned.
func childSMP(path string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cfg, err := conf.LoadSMP(path)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	a, err := smpapp.New(ctx, cfg, nil, nil)
	if err != nil {
		fail(err)
	}
	g := &lifecycle.Group{}
	g.Add(a.Servers()...)
	if err := g.Start(ctx); err != nil {
		fail(err)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		p := fmt.Sprintf("iso6523-actorid-upis::9915:killed-%05d", i)
		id, err := cfg.Policy().Parse(identifier.Participant, p)
		if err != nil {
			fail(err)
		}
		if _, err := a.Service().PutServiceGroup(ctx, smp.System, smp.ServiceGroup{Participant: id, InSML: true}, smp.GroupWrite{}); err != nil {
			fail(err)
		}
		fmt.Fprintln(w, "acked", p)
		w.Flush()
	}
}
