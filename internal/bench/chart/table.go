package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
)

// value returns the value of one key and whether the results have it.
func value(rs []result, suite, metric, subject, param string) (float64, bool) {
	v, ok := 0.0, false
	for _, r := range rs {
		if r.suite == suite && r.metric == metric && r.subject == subject && r.param == param {
			v, ok = r.value, true
		}
	}
	return v, ok
}

// sizes returns the zone sizes of the DNS results, ascending.
func sizes(rs []result) []string {
	var ns []int
	for _, r := range rs {
		if r.suite != "dns" {
			continue
		}
		if n, err := strconv.Atoi(r.param); err == nil && !slices.Contains(ns, n) {
			ns = append(ns, n)
		}
	}
	slices.Sort(ns)
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strconv.Itoa(n)
	}
	return out
}

// group writes n with thousands separators.
func group(n float64) string {
	s := strconv.FormatFloat(n, 'f', 0, 64)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// writeTables writes the suite's figures as Markdown tables (what docs/BENCHMARKS.md records).
func writeTables(w io.Writer, rs []result) {
	cell := func(suite, metric, subject, param, format string, scale float64) string {
		v, ok := value(rs, suite, metric, subject, param)
		if !ok {
			return "-"
		}
		if format == "group" {
			return group(v * scale)
		}
		return fmt.Sprintf(format, v*scale)
	}
	ratio := func(suite, metric, param string) string {
		a, ok1 := value(rs, suite, metric, "signpost", param)
		b, ok2 := value(rs, suite, metric, "knot", param)
		if !ok1 || !ok2 || b == 0 {
			return "-"
		}
		return fmt.Sprintf("**%.2f**", a/b)
	}
	if ns := sizes(rs); len(ns) > 0 {
		fmt.Fprintln(w, "| participants | qps Signpost / Knot (ratio) | RssAnon B/participant when ready, Signpost / Knot | RssAnon B/participant after AXFRs and queries, Signpost / Knot | ready s Signpost / Knot (ratio) | AXFR s Signpost / Knot (ratio) | secondary bootstrap s from Signpost / Knot (ratio) | IXFR s after 1,000 changes, Signpost / Knot (ratio) | CreateList participants/s | single Creates/s |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
		for _, n := range ns {
			x, _ := strconv.ParseFloat(n, 64)
			fmt.Fprintf(w, "| %s | %s / %s (%s) | %s / %s | %s / %s | %s / %s (%s) | %s / %s (%s) | %s / %s (%s) | %s / %s (%s) | %s | %s |\n",
				group(x),
				cell("dns", "qps", "signpost", n, "group", 1), cell("dns", "qps", "knot", n, "group", 1), ratio("dns", "qps", n),
				cell("dns", "rss_ready_bytes", "signpost", n, "group", 1/x), cell("dns", "rss_ready_bytes", "knot", n, "group", 1/x),
				cell("dns", "rss_bytes", "signpost", n, "group", 1/x), cell("dns", "rss_bytes", "knot", n, "group", 1/x),
				cell("dns", "ready_s", "signpost", n, "%.2f", 1), cell("dns", "ready_s", "knot", n, "%.2f", 1), ratio("dns", "ready_s", n),
				cell("dns", "axfr_s", "signpost", n, "%.2f", 1), cell("dns", "axfr_s", "knot", n, "%.2f", 1), ratio("dns", "axfr_s", n),
				cell("dns", "bootstrap_s", "signpost", n, "%.2f", 1), cell("dns", "bootstrap_s", "knot", n, "%.2f", 1), ratio("dns", "bootstrap_s", n),
				cell("dns", "ixfr_s", "signpost", n, "%.2f", 1), cell("dns", "ixfr_s", "knot", n, "%.2f", 1), ratio("dns", "ixfr_s", n),
				cell("sml", "createlist_per_s", "signpost", n, "group", 1), cell("sml", "create_per_s", "signpost", n, "group", 1))
		}
		fmt.Fprintln(w)
	}
	if _, ok := value(rs, "smp", "rps", "nginx", "https"); ok {
		fmt.Fprintln(w, "| protocol | nginx req/s (µs CPU/req) | Signpost req/s (µs CPU/req) | sign on every GET req/s (µs CPU/req) | Signpost / nginx | Signpost / sign-per-GET |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|")
		for _, p := range []string{"http", "https"} {
			ng, _ := value(rs, "smp", "rps", "nginx", p)
			sp, _ := value(rs, "smp", "rps", "signpost", p)
			sg, okg := value(rs, "smp", "rps", "signperget", p)
			vs := "-"
			if okg && sg > 0 {
				vs = fmt.Sprintf("**%.0f**", sp/sg)
			}
			r := "-"
			if ng > 0 {
				r = fmt.Sprintf("**%.2f**", sp/ng)
			}
			fmt.Fprintf(w, "| %s | %s (%s) | %s (%s) | %s (%s) | %s | %s |\n", p,
				cell("smp", "rps", "nginx", p, "group", 1), cell("smp", "cpu_us", "nginx", p, "%.1f", 1),
				cell("smp", "rps", "signpost", p, "group", 1), cell("smp", "cpu_us", "signpost", p, "%.1f", 1),
				cell("smp", "rps", "signperget", p, "group", 1), cell("smp", "cpu_us", "signperget", p, "%.1f", 1), r, vs)
		}
		fmt.Fprintln(w)
	}
	if v, ok := value(rs, "outbox", "to_dns_s", "signpost", "10000"); ok {
		d, okd := value(rs, "outbox", "direct_s", "sml", "10000")
		r := "-"
		if okd && d > 0 {
			r = fmt.Sprintf("**%.1f**", v/d)
		}
		fmt.Fprintln(w, "| SMP to SML, 10,000 imported groups | until all are in DNS, s | of which after the import ended, s | reference: CreateLists straight to the SML, s | ratio |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		fmt.Fprintf(w, "| outbox | %.2f | %s | %s | %s |\n\n", v, cell("outbox", "after_import_s", "signpost", "10000", "%.2f", 1),
			cell("outbox", "direct_s", "sml", "10000", "%.2f", 1), r)
	}
	writePostgresTable(w, rs, cell)
	if _, ok := value(rs, "lookup", "rate", "cold", "serial"); ok {
		fmt.Fprintln(w, "| lookup | lookups/s serial | lookups/s parallel | p50 µs | p99 µs |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, m := range []string{"cold", "cached"} {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", m,
				cell("lookup", "rate", m, "serial", "group", 1), cell("lookup", "rate", m, "parallel", "group", 1),
				cell("lookup", "p50_us", m, "serial", "group", 1), cell("lookup", "p99_us", m, "serial", "group", 1))
		}
		fmt.Fprintln(w)
	}
}

// writePostgresTable writes the figures of the PostgreSQL backend (issue 15): each against its reference in the
// same run, where there is one.
func writePostgresTable(w io.Writer, rs []result, cell func(suite, metric, subject, param, format string, scale float64) string) {
	var rows []string
	ratio := func(a, b float64, okA, okB bool) string {
		if !okA || !okB || b == 0 {
			return "-"
		}
		return fmt.Sprintf("**%.2f**", a/b)
	}
	if pg, ok := value(rs, "smlstore", "createlist_per_s", "postgres", "100"); ok {
		bolt, okb := value(rs, "smlstore", "createlist_per_s", "bolt", "100")
		rows = append(rows, fmt.Sprintf("| SML CreateList (100 per call), participants/s | %s | %s on bbolt | %s (goal at least 0.5) |",
			group(pg), cell("smlstore", "createlist_per_s", "bolt", "100", "group", 1), ratio(pg, bolt, ok, okb)))
	}
	for _, n := range sizes(rs) {
		pg, ok := value(rs, "dns", "qps", "signpost-pg", n)
		if !ok {
			continue
		}
		bolt, okb := value(rs, "dns", "qps", "signpost", n)
		nf, _ := strconv.ParseFloat(n, 64)
		rows = append(rows, fmt.Sprintf("| DNS queries/s of a node, %s participants | %s | %s on bbolt | %s (goal 1 within noise) |",
			group(nf), group(pg), cell("dns", "qps", "signpost", n, "group", 1), ratio(pg, bolt, ok, okb)))
		if c, ok := value(rs, "dns", "pg_copy_s", "signpost", n); ok {
			rows = append(rows, fmt.Sprintf("| store copy bbolt to PostgreSQL, %s participants, s | %.1f | - | - |", group(nf), c))
		}
	}
	if v, ok := value(rs, "nodes", "visible_p50_ms", "postgres", "200"); ok {
		rows = append(rows, fmt.Sprintf("| SML: SOAP write on node A until node B's DNS answers it, p50 / p99 ms | %.1f / %s | SOAP write on A, p50 %s ms | - (goal 1,000 ms) |",
			v, cell("nodes", "visible_p99_ms", "postgres", "200", "%.1f", 1), cell("nodes", "write_p50_ms", "postgres", "200", "%.1f", 1)))
	}
	if v, ok := value(rs, "nodes", "smp_visible_p50_ms", "postgres", "500"); ok {
		rows = append(rows, fmt.Sprintf("| SMP: a change acknowledged by node A until node B serves it, p50 / p99 ms | %.2f / %s | - | - (goal 1,000 ms) |",
			v, cell("nodes", "smp_visible_p99_ms", "postgres", "500", "%.2f", 1)))
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "| PostgreSQL backend | figure | reference in the same run | ratio |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintln(w, r)
	}
	fmt.Fprintln(w)
}
