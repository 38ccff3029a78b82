package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `meta commit abc123 - -
dns qps signpost 1000 120000
dns qps knot 1000 100000
dns qps signpost 100000 110000
dns qps knot 100000 100000
dns rss_bytes signpost 1000 6000000
dns rss_bytes knot 1000 3000000
dns rss_bytes signpost 100000 84000000
dns rss_bytes knot 100000 40000000
dns rss_ready_bytes signpost 1000 5000000
dns ready_s signpost 1000 0.3
dns ready_s knot 1000 0.1
smp rps nginx https 60000
smp rps signpost https 40000
smp rps signperget https 400
smp rps nginx http 70000
smp rps signpost http 50000
outbox to_dns_s signpost 10000 6.5
outbox after_import_s signpost 10000 0.04
outbox direct_s sml 10000 0.5
nodes visible_p50_ms postgres 200 3.1
nodes visible_p99_ms postgres 200 115.3
nodes write_p50_ms postgres 200 3.07
nodes smp_visible_p50_ms postgres 500 0.28
nodes smp_visible_p99_ms postgres 500 2.6
smlstore createlist_per_s bolt 100 20000
smlstore createlist_per_s postgres 100 17000
dns qps signpost-pg 100000 105000
dns pg_copy_s signpost 100000 4.2
`

// Every chart with data is written as a PNG of the size asked for; a chart without data is skipped and said so.
func TestRunDrawsCharts(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "results.tsv")
	if err := os.WriteFile(in, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	var warn bytes.Buffer
	out := filepath.Join(dir, "charts")
	if err := run(in, out, &warn); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dns-qps.png", "dns-memory.png", "dns-times.png", "smp-rps.png"} {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if cfg.Width < 400 || cfg.Height < 200 {
			t.Fatalf("%s: %dx%d", name, cfg.Width, cfg.Height)
		}
	}
	tables, err := os.ReadFile(filepath.Join(out, "tables.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| 1,000 | 120,000 / 100,000 (**1.20**) | 5,000 / - | 6,000 / 3,000 | 0.30 / 0.10 (**3.00**) |",
		"| 100,000 | 110,000 / 100,000 (**1.10**) | - / - | 840 / 400 | - / - (-) |",
		"| https | 60,000 (-) | 40,000 (-) | 400 (-) | **0.67** | **100** |",
		"| outbox | 6.50 | 0.04 | 0.50 | **13.0** |",
		"| SML: SOAP write on node A until node B's DNS answers it, p50 / p99 ms | 3.1 / 115.3 | SOAP write on A, p50 3.1 ms |",
		"| SMP: a change acknowledged by node A until node B serves it, p50 / p99 ms | 0.28 / 2.60 |",
		"| SML CreateList (100 per call), participants/s | 17,000 | 20,000 on bbolt | **0.85** (goal at least 0.5) |",
		"| DNS queries/s of a node, 100,000 participants | 105,000 | 110,000 on bbolt | **0.95** (goal 1 within noise) |",
		"| store copy bbolt to PostgreSQL, 100,000 participants, s | 4.2 |",
	} {
		if !strings.Contains(string(tables), want) {
			t.Fatalf("tables.md lacks %q:\n%s", want, tables)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "sml-writes.png")); !os.IsNotExist(err) {
		t.Fatalf("sml-writes.png drawn without data: %v", err)
	}
	if !strings.Contains(warn.String(), "sml-writes.png skipped") {
		t.Fatalf("no note for the skipped chart: %q", warn.String())
	}
}

func TestSeriesPerParticipantSorted(t *testing.T) {
	rs, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	pts := series(rs, "dns", "rss_bytes", "signpost", true)
	if len(pts) != 2 || pts[0].X != 1000 || pts[0].Y != 6000 || pts[1].X != 100000 || pts[1].Y != 840 {
		t.Fatalf("got %v", pts)
	}
}

func TestParseRefusesMalformedLines(t *testing.T) {
	for _, in := range []string{"dns qps signpost 1000", "dns qps signpost 1000 fast", "dns qps signpost 1000 NaN"} {
		if _, err := parse(strings.NewReader(in + "\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Fatalf("%q: %v", in, err)
		}
	}
}
