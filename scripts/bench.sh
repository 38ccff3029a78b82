#!/usr/bin/env bash
# Benchmarks. Go micro-benchmarks first; the comparisons against reference servers (Knot, nginx) live in
# scripts/bench-*.sh and are run when present. Results go to stdout; docs/BENCHMARKS.md records them.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run='^$' -bench=. -benchmem -count=1 ./...
for s in scripts/bench-*.sh; do
  [ -e "$s" ] || continue
  echo "== $s"
  bash "$s"
done
