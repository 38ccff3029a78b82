#!/usr/bin/env bash
# Runs every testing.F fuzz target of the module for the given time each (default 3s).
#
# Go 1.26's fuzzing engine can end a run at its -fuzztime deadline with "context deadline exceeded" under CPU
# load, without any failing input (golang/go#75804). Such a run is tried once more; a run that wrote a failing
# input, or that fails twice, fails the script.
set -euo pipefail
t="${1:-3s}"
mapfile -t files < <(git ls-files '*_test.go' 2>/dev/null || find . -name '*_test.go')
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for f in "${files[@]}"; do
  for fn in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\)' "$f" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+).*/\1/'); do
    pkg="./$(dirname "$f")"
    for try in 1 2; do
      echo "fuzz $pkg $fn ($t)"
      if go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$t" "$pkg" >"$out" 2>&1; then
        cat "$out"
        break
      fi
      cat "$out"
      if [ "$try" = 1 ] && grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written to' "$out"; then
        echo "fuzz $pkg $fn: the engine stopped at its deadline without a failing input (golang/go#75804); trying again"
        continue
      fi
      exit 1
    done
  done
done
