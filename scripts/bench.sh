#!/usr/bin/env bash
# The benchmark suite behind `make bench` (docs/BENCHMARKS.md): each comparison runs the reference (Knot, nginx) and
# Signpost in the same run on the same machine, alternating, and reports medians and ratios.
#   1. the lookup client, cold and cached (go test -bench BenchmarkLookup ./lookup/);
#   2. the SML against Knot at 1k, 100k and 1M participants (scripts/bench-dns.sh; SCALE=10000000 adds 10M);
#   3. the SMP's reads against nginx over HTTP and HTTPS, with the sign-on-every-GET server (scripts/bench-smp.sh);
#   4. the SMP's outbox: 10,000 imported service groups until all are in the SML's DNS, against CreateLists
#      straight to the SML (go test -bench BenchmarkImportToDNS ./smp/registrar/);
#   5. the SML's CreateList on bbolt and on PostgreSQL (go test -bench BenchmarkCreateList ./sml/pgrepo/);
#   6. the SMP's bulk import (scripts/bench-smp-import.sh, SMP_IMPORT_N service groups, default 2000);
#   7. two SML nodes on one PostgreSQL: 200 SOAP writes on node A, each until node B's DNS answers it, p50 and p99
#      (go test -bench BenchmarkTwoNodesVisibility ./sml/app/; the cluster comes from internal/pgtest);
#   8. two SMP nodes on one PostgreSQL: how long a change acknowledged by one is served by the other, p50 and p99
#      (go test -bench BenchmarkTwoNodesVisibility ./smp/app/);
#   9. the charts: internal/bench/chart draws $OUT/*.png from $OUT/results.tsv.
# The default run stays within 15 minutes on the 2-core development machine once the zone fixtures are cached in
# .benchcache/ (the first run builds them: about 2 more minutes). MICRO=1 also runs every Go micro-benchmark
# (go test -bench=. ./...), which takes longer.
# Env: OUT (default docs/bench), SCALE, and what scripts/bench-dns.sh and scripts/bench-smp.sh read.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-docs/bench}"
mkdir -p "$OUT"
export RESULTS="$OUT/results.tsv.partial"
: >"$RESULTS"
start=$(date +%s)
elapsed() { echo "$(($(date +%s) - start)) s"; }
{
  echo "meta commit $(git describe --always --dirty 2>/dev/null || echo unknown) - -"
  echo "meta date $(date -u +%Y-%m-%dT%H:%M:%SZ) - -"
  echo "meta cpus $(nproc) - -"
  echo "meta loadavg_at_start $(cut -d' ' -f1 /proc/loadavg) - -"
  echo "meta scale ${SCALE:-none} - -"
} >>"$RESULTS"

if [ -n "${MICRO:-}" ]; then
  echo "== Go micro-benchmarks"
  go test -run='^$' -bench=. -benchmem -count=1 ./...
fi

echo "== lookup: cold and cached ($(elapsed))"
go test -run '^$' -bench 'BenchmarkLookup$' -benchtime 2s -count 1 ./lookup/ | tee "$OUT/lookup.txt.partial"
awk '/^BenchmarkLookup\// {
       split($1, p, "/"); mode = p[2]; run = p[3]; sub(/-[0-9]+$/, "", run)
       for (i = 3; i < NF; i++) {
         if ($(i + 1) == "lookups/s") print "lookup rate " mode " " run " " $i
         if ($(i + 1) == "p50-µs") print "lookup p50_us " mode " " run " " $i
         if ($(i + 1) == "p99-µs") print "lookup p99_us " mode " " run " " $i
       }
     }' "$OUT/lookup.txt.partial" >>"$RESULTS"
rm -f "$OUT/lookup.txt.partial"

echo "== SML against Knot ($(elapsed))"
bash scripts/bench-dns.sh

echo "== SMP reads against nginx, and sign-on-every-GET ($(elapsed))"
SIGNPERGET=1 bash scripts/bench-smp.sh

# gobench PATTERN BENCHTIME PKG UNIT=RESULT...: runs one Go benchmark and appends, for each UNIT it reports, the
# line "RESULT VALUE" to $RESULTS (RESULT is "suite metric subject param").
gobench() {
  local pattern=$1 benchtime=$2 pkg=$3 out="$OUT/gobench.txt.partial"
  shift 3
  go test -run '^$' -bench "$pattern" -benchtime "$benchtime" -count 1 "$pkg" | tee "$out"
  awk -v maps="$*" 'BEGIN { n = split(maps, m, " "); for (j = 1; j <= n; j++) { split(m[j], kv, "="); r[kv[1]] = kv[2] } }
       /^Benchmark/ { for (i = 3; i < NF; i++) if ($(i + 1) in r) { x = r[$(i + 1)]; gsub(/:/, " ", x); print x " " $i } }' \
    "$out" >>"$RESULTS"
  rm -f "$out"
}

echo "== SMP to SML: 10,000 imported service groups until all are in DNS ($(elapsed))"
gobench BenchmarkImportToDNS\$ 1x ./smp/registrar/ s-to-dns=outbox:to_dns_s:signpost:10000 \
  s-outbox=outbox:after_import_s:signpost:10000 s-direct=outbox:direct_s:sml:10000

echo "== SML CreateList on bbolt and on PostgreSQL ($(elapsed))"
gobench BenchmarkCreateList\$ 300x ./sml/pgrepo/ bolt-participants/s=smlstore:createlist_per_s:bolt:100 \
  postgres-participants/s=smlstore:createlist_per_s:postgres:100 postgres/bolt=smlstore:createlist_ratio:postgres:100

echo "== SMP bulk import ($(elapsed))"
N="${SMP_IMPORT_N:-2000}" bash scripts/bench-smp-import.sh

echo "== two SML nodes on one PostgreSQL: a write on A until B's DNS answers it ($(elapsed))"
gobench BenchmarkTwoNodesVisibility\$ 1x ./sml/app/ ms-p50=nodes:visible_p50_ms:postgres:200 \
  ms-p99=nodes:visible_p99_ms:postgres:200 write-ms-p50=nodes:write_p50_ms:postgres:200

echo "== two SMP nodes on PostgreSQL: a change on one served by the other ($(elapsed))"
gobench BenchmarkTwoNodesVisibility\$ 500x ./smp/app/ p50-ms=nodes:smp_visible_p50_ms:postgres:500 \
  p99-ms=nodes:smp_visible_p99_ms:postgres:500

mv "$RESULTS" "$OUT/results.tsv"
echo "== charts ($(elapsed))"
go run ./internal/bench/chart -in "$OUT/results.tsv" -out "$OUT"
echo "bench: done in $(elapsed); results in $OUT/results.tsv, charts in $OUT/*.png"
