package registrar_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/smp"
)

// lockedBuffer collects log lines written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// changes counts the SML's audit lines ("sml change") by operation and participant ("" for SMP changes).
func (l *lockedBuffer) changes(t *testing.T) map[string]map[string]int {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg         string `json:"msg"`
			Op          string `json:"op"`
			Participant string `json:"participant"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec.Msg != "sml change" {
			continue
		}
		if out[rec.Op] == nil {
			out[rec.Op] = map[string]int{}
		}
		out[rec.Op][rec.Participant]++
	}
	return out
}

// TestTwoNodesOutbox: two SMP nodes on one PostgreSQL database register in a real SML. Service groups written on
// both nodes are each created in the SML once (its audit log shows no duplicate create), the SMP registers itself
// once, and when the node delivering the outbox stops, the other delivers what is written next.
func TestTwoNodesOutbox(t *testing.T) {
	needDig(t)
	pg := pgtest.Start(t)
	dsn := pg.NewDatabase(t)
	var audit lockedBuffer
	s := newStackLogged(t, slog.New(slog.NewJSONHandler(&audit, &slog.HandlerOptions{Level: slog.LevelInfo})))
	cfgA := s.smpConfig(smpOptions{})
	cfgA.Store.Backend, cfgA.Store.DSN = conf.BackendPostgres, dsn
	cfgB := *cfgA
	cfgB.HTTP.Listen, cfgB.Admin.Listen = testnet.FreeAddr(t), testnet.FreeAddr(t)
	a := &smpNode{cfg: cfgA}
	a.start(t)
	t.Cleanup(a.stop)
	b := &smpNode{cfg: &cfgB}
	b.start(t)
	t.Cleanup(b.stop)

	const n = 40
	ps := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		ps[i] = fmt.Sprintf("iso6523-actorid-upis::0088:nodes%03d", i)
		node := a
		if i%2 == 1 {
			node = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			node.put(t, ps[i], "")
		}()
	}
	wg.Wait()
	for _, p := range ps {
		a.waitState(t, p, smp.RegRegistered)
		if !s.smlHas(t, p) {
			t.Fatalf("%s registered but not in the SML's DNS", p)
		}
	}
	// Let any second delivery that would happen, happen.
	time.Sleep(2 * time.Second)
	ch := audit.changes(t)
	for _, p := range ps {
		if c := ch["create-participant"][p]; c != 1 {
			t.Errorf("%s created %d times in the SML, want once", p, c)
		}
	}
	if c := ch["create-smp"][""]; c != 1 {
		t.Errorf("the SMP was created %d times in the SML, want once (%v)", c, ch)
	}
	// Only the leader talked to the SML: one registration of the SMP, and no create that the SML refused (as it
	// refuses a participant delivered a second time).
	if c := a.calls(t, "register-smp", "ok") + b.calls(t, "register-smp", "ok"); c != 1 {
		t.Errorf("the SMP registered itself %v times, want once", c)
	}
	for _, node := range []*smpNode{a, b} {
		if c := refusedCreates(t, node); c != 0 {
			t.Errorf("%v creates refused by the SML (delivered twice)", c)
		}
	}

	// The node delivering the outbox goes: the other takes over.
	leader, other := a, b
	if !a.app.RunsJobs() {
		leader, other = b, a
	}
	// Only the leader's status speaks for the worker; the other node's says it is on standby, with the same counts.
	ls, err := leader.app.Registrar().Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ost, err := other.app.Registrar().Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ls.Standby || !ost.Standby || ls.Count != ost.Count || !ost.Self.Registered {
		t.Errorf("status: leader %+v, other %+v; want the other on standby with the same counts", ls, ost)
	}
	leader.stop()
	const late = "iso6523-actorid-upis::0088:nodes-late"
	other.put(t, late, "")
	deadline := time.Now().Add(10 * time.Second)
	for !s.smlHas(t, late) {
		if time.Now().After(deadline) {
			t.Fatalf("%s not delivered by the remaining node within 10 s: %+v", late, other.registration(t, late))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c := audit.changes(t)["create-participant"][late]; c != 1 {
		t.Errorf("%s created %d times, want once", late, c)
	}
	if st, err := other.app.Registrar().Status(t.Context()); err != nil || st.Standby {
		t.Errorf("status of the node that took over: %+v, %v; want it no longer on standby", st, err)
	}
}

// refusedCreates sums signpost_smp_sml_calls_total of the create operations whose outcome is not ok.
func refusedCreates(t *testing.T, n *smpNode) float64 {
	t.Helper()
	mfs, err := n.ops.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "signpost_smp_sml_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var op, outcome string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "op":
					op = l.GetValue()
				case "outcome":
					outcome = l.GetValue()
				}
			}
			if (op == "create" || op == "create-list") && outcome != "ok" {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
