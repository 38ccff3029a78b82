#!/usr/bin/env bash
# Runs every testing.F fuzz target of the module for the given time each (default 3s).
set -euo pipefail
t="${1:-3s}"
mapfile -t files < <(git ls-files '*_test.go' 2>/dev/null || find . -name '*_test.go')
for f in "${files[@]}"; do
  for fn in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\)' "$f" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+).*/\1/'); do
    pkg="./$(dirname "$f")"
    echo "fuzz $pkg $fn ($t)"
    go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$t" "$pkg"
  done
done
