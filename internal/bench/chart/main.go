// Command chart draws the charts of docs/BENCHMARKS.md from the results file of `make bench` (scripts/bench.sh):
// lines of "SUITE METRIC SUBJECT PARAM VALUE", e.g. "dns qps knot 100000 254000" or "smp rps nginx https 61000".
// It writes PNG files into -out:
//
//	dns-qps.png      DNS queries per second against zone size, Signpost and Knot
//	dns-memory.png   RssAnon bytes per participant against zone size, Signpost and Knot (when ready, and after
//	                 the transfers and queries)
//	dns-times.png    time to ready, AXFR, a secondary's bootstrap and IXFR against zone size
//	sml-writes.png   SOAP registrations per second against zone size (CreateList, single Creates)
//	smp-rps.png      SMP reads per second over HTTP and HTTPS: nginx, Signpost, sign-per-GET
//
// A chart whose data the file lacks is skipped with a note on stderr. The figures also go, as the Markdown tables
// docs/BENCHMARKS.md records, into -out/tables.md.
//
// Usage: go run ./internal/bench/chart -in docs/bench/results.tsv -out docs/bench
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

func main() {
	in := flag.String("in", "docs/bench/results.tsv", "results file of the benchmark suite")
	out := flag.String("out", "docs/bench", "folder for the PNG files")
	flag.Parse()
	if err := run(*in, *out, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

// result is one line of the results file.
type result struct {
	suite, metric, subject, param string
	value                         float64
}

// parse reads the results file; "meta" lines and blank lines are skipped, a later line for the same key wins.
func parse(r io.Reader) ([]result, error) {
	var rs []result
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] == "meta" || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 5 {
			return nil, fmt.Errorf("line %d: %q: want SUITE METRIC SUBJECT PARAM VALUE", n, sc.Text())
		}
		v, err := strconv.ParseFloat(f[4], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("line %d: value %q is not a number", n, f[4])
		}
		rs = append(rs, result{f[0], f[1], f[2], f[3], v})
	}
	return rs, sc.Err()
}

// series returns the points (param as x, value as y) of one suite, metric and subject, sorted by x; per is an
// optional divisor by x (bytes per participant).
func series(rs []result, suite, metric, subject string, per bool) plotter.XYs {
	byX := map[float64]float64{}
	for _, r := range rs {
		if r.suite != suite || r.metric != metric || r.subject != subject {
			continue
		}
		x, err := strconv.ParseFloat(r.param, 64)
		if err != nil || x <= 0 {
			continue
		}
		y := r.value
		if per {
			y /= x
		}
		byX[x] = y
	}
	xs := make([]float64, 0, len(byX))
	for x := range byX {
		xs = append(xs, x)
	}
	slices.Sort(xs)
	pts := make(plotter.XYs, len(xs))
	for i, x := range xs {
		pts[i] = plotter.XY{X: x, Y: byX[x]}
	}
	return pts
}

var errNoData = errors.New("no data")

type line struct {
	name string
	pts  plotter.XYs
}

// sizeChart draws lines against the zone size on a log x axis.
// The legend goes where the lines leave room: top, left.
func sizeChart(file, title, ylabel string, logY, top, left bool, lines []line) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "participants in the zone"
	p.Y.Label.Text = ylabel
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = sizeTicks{}
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Legend.Top = top
	p.Legend.Left = left
	p.Legend.XOffs = vg.Points(-8)
	if left {
		p.Legend.XOffs = vg.Points(8)
	}
	p.Legend.YOffs = vg.Points(8)
	if top {
		p.Legend.YOffs = vg.Points(-8)
	}
	any := false
	for i, l := range lines {
		if len(l.pts) == 0 {
			continue
		}
		any = true
		ln, pts, err := plotter.NewLinePoints(l.pts)
		if err != nil {
			return err
		}
		ln.Color = plotutil.Color(i)
		ln.Width = vg.Points(1.5)
		switch {
		case strings.HasPrefix(l.name, "goal"):
			ln.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			pts.GlyphStyle.Radius = 0
		case strings.Contains(l.name, "Knot"): // the reference: dashed, so that it reads apart from Signpost
			ln.Dashes = []vg.Length{vg.Points(6), vg.Points(2)}
		}
		pts.Color = plotutil.Color(i)
		pts.Shape = plotutil.Shape(i)
		p.Add(ln, pts)
		p.Legend.Add(l.name, ln, pts)
	}
	if !any {
		return errNoData
	}
	if !logY {
		p.Y.Min = 0
		p.Y.Max *= 1.05
	}
	p.Add(plotter.NewGrid())
	return p.Save(16*vg.Centimeter, 10*vg.Centimeter, file)
}

// sizeTicks marks 1k, 10k, ... on the zone-size axis.
type sizeTicks struct{}

func (sizeTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for v := 1.0; v <= max*1.0001; v *= 10 {
		if v < min/1.0001 {
			continue
		}
		ts = append(ts, plot.Tick{Value: v, Label: humanSize(v)})
	}
	return ts
}

func humanSize(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// smpChart draws grouped bars of req/s per protocol for each server.
func smpChart(file string, rs []result) error {
	servers := []struct{ key, name string }{{"nginx", "nginx (static file)"}, {"signpost", "Signpost (signed at write)"}, {"signperget", "sign on every GET"}}
	protos := []string{"http", "https"}
	p := plot.New()
	p.Title.Text = "SMP: signed ServiceMetadata GETs per second (wrk -c32, keep-alive)"
	p.Y.Label.Text = "requests per second"
	p.Legend.Top = true
	w := vg.Points(40)
	any := false
	for i, s := range servers {
		vals := make(plotter.Values, len(protos))
		found := false
		for j, proto := range protos {
			for _, r := range rs {
				if r.suite == "smp" && r.metric == "rps" && r.subject == s.key && r.param == proto {
					vals[j], found = r.value, true
				}
			}
		}
		if !found {
			continue
		}
		any = true
		bc, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bc.Color = plotutil.Color(i)
		bc.LineStyle.Width = 0
		bc.Offset = vg.Length(i-1) * w
		p.Add(bc)
		p.Legend.Add(s.name, bc)
		labels := plotter.XYLabels{}
		for j, v := range vals {
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(j), Y: v})
			labels.Labels = append(labels.Labels, strconv.FormatFloat(math.Round(v), 'f', -1, 64))
		}
		lb, err := plotter.NewLabels(labels)
		if err != nil {
			return err
		}
		for k := range lb.TextStyle {
			lb.TextStyle[k].Color = color.Black
			lb.TextStyle[k].XAlign = draw.XCenter
		}
		lb.Offset = vg.Point{X: vg.Length(i-1) * w, Y: vg.Points(2)}
		p.Add(lb)
	}
	if !any {
		return errNoData
	}
	p.NominalX("HTTP", "HTTPS")
	p.Y.Min = 0
	p.Y.Max *= 1.2
	return p.Save(16*vg.Centimeter, 10*vg.Centimeter, file)
}

func run(in, out string, warn io.Writer) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	rs, err := parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	goal := func(y float64, pts plotter.XYs) plotter.XYs {
		if len(pts) == 0 {
			return nil
		}
		return plotter.XYs{{X: pts[0].X, Y: y}, {X: pts[len(pts)-1].X, Y: y}}
	}
	sp := series(rs, "dns", "rss_bytes", "signpost", true)
	charts := []struct {
		file string
		draw func(string) error
	}{
		{"dns-qps.png", func(file string) error {
			return sizeChart(file, "SML DNS: queries per second (90% existing, 10% unknown names)", "queries per second", false, false, true, []line{
				{"Signpost", series(rs, "dns", "qps", "signpost", false)},
				{"Knot", series(rs, "dns", "qps", "knot", false)},
			})
		}},
		{"dns-memory.png", func(file string) error {
			return sizeChart(file, "SML DNS: RssAnon per participant (NAPTR and CNAME)", "bytes per participant", true, true, false, []line{
				{"Signpost, after AXFRs and queries", sp},
				{"Knot, after AXFRs and queries", series(rs, "dns", "rss_bytes", "knot", true)},
				{"Signpost, when ready", series(rs, "dns", "rss_ready_bytes", "signpost", true)},
				{"Knot, when ready", series(rs, "dns", "rss_ready_bytes", "knot", true)},
				{"goal at 10M: 150 B", goal(150, sp)},
			})
		}},
		{"dns-times.png", func(file string) error {
			return sizeChart(file, "SML DNS: time to ready, AXFR, a secondary's bootstrap and IXFR", "seconds", true, true, true, []line{
				{"ready: Signpost", series(rs, "dns", "ready_s", "signpost", false)},
				{"ready: Knot", series(rs, "dns", "ready_s", "knot", false)},
				{"AXFR: Signpost", series(rs, "dns", "axfr_s", "signpost", false)},
				{"AXFR: Knot", series(rs, "dns", "axfr_s", "knot", false)},
				{"bootstrap from Signpost", series(rs, "dns", "bootstrap_s", "signpost", false)},
				{"bootstrap from Knot", series(rs, "dns", "bootstrap_s", "knot", false)},
				{"IXFR after 1,000 changes from Signpost", series(rs, "dns", "ixfr_s", "signpost", false)},
				{"IXFR after 1,000 changes from Knot", series(rs, "dns", "ixfr_s", "knot", false)},
			})
		}},
		{"sml-writes.png", func(file string) error {
			return sizeChart(file, "SML SOAP writes into a store of that size (mutual TLS, fsync)", "participants per second", true, false, true, []line{
				{"CreateList (4 clients, 100 per call)", series(rs, "sml", "createlist_per_s", "signpost", false)},
				{"single Create (64 clients)", series(rs, "sml", "create_per_s", "signpost", false)},
			})
		}},
		{"smp-rps.png", func(file string) error { return smpChart(file, rs) }},
	}
	var tables strings.Builder
	writeTables(&tables, rs)
	if err := os.WriteFile(filepath.Join(out, "tables.md"), []byte(tables.String()), 0o644); err != nil {
		return err
	}
	for _, c := range charts {
		file := filepath.Join(out, c.file)
		switch err := c.draw(file); {
		case errors.Is(err, errNoData):
			fmt.Fprintf(warn, "chart: %s skipped: %s has no data for it\n", c.file, in)
		case err != nil:
			return fmt.Errorf("%s: %w", c.file, err)
		}
	}
	return nil
}
