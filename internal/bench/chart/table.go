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
	if v, ok := value(rs, "nodes", "visible_p50_ms", "postgres", "200"); ok {
		fmt.Fprintln(w, "| two SML nodes, one PostgreSQL, 200 writes | SOAP write on node A, p50 ms | until node B's DNS answers it, p50 ms | p99 ms |")
		fmt.Fprintln(w, "|---|---|---|---|")
		fmt.Fprintf(w, "| nodes | %s | %.1f | %s |\n\n", cell("nodes", "write_p50_ms", "postgres", "200", "%.1f", 1), v,
			cell("nodes", "visible_p99_ms", "postgres", "200", "%.1f", 1))
	}
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
