#!/usr/bin/env bash
# DNS speed: the SML's DNS server against Knot (the reference) serving the same zone, dnsperf alternating
# A B A B (ROUNDS rounds of SECS seconds each) on random existing participants' NAPTR names. Prints the qps of
# each run, the medians and the ratio. N participants (default 100000; N=1000000 for the big zone).
# Usage: scripts/bench-dns.sh    (N, ROUNDS, SECS, CLIENTS, SOURCE from the environment)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-100000}"
ROUNDS="${ROUNDS:-2}"
SECS="${SECS:-10}"
CLIENTS="${CLIENTS:-1}"
for c in dnsperf knotd knotc dig kdig openssl shuf bc; do
  command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || { echo "missing $c: run scripts/install-test-deps.sh" >&2; exit 1; }
done
PATH="$PATH:/usr/sbin"
dir="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitdns() { # port
  for _ in $(seq 1 600); do
    if dig +short +norec +time=1 +tries=1 @127.0.0.1 -p "$1" sml.test SOA 2>/dev/null | grep -q hostmaster; then return 0; fi
    sleep 0.2
  done
  echo "server on port $1 did not answer" >&2; return 1
}

# SOURCE=binary (the default when bin/signpost, or SIGNPOST_BIN, is built): the zone is loaded with `signpost sml import`, exported
# with `signpost sml export-zone` and served by `signpost sml serve`. SOURCE=gen: internal/dnstest/dnsbench
# generates the same kind of zone in memory (no store), writes its zone file and serves it.
SOURCE="${SOURCE:-}"
bin="${SIGNPOST_BIN:-bin/signpost}"
if [ -z "$SOURCE" ]; then
  if [ -x "$bin" ] && "$bin" sml import --help >/dev/null 2>&1; then SOURCE=binary; else SOURCE=gen; fi
fi
sml_port="$(freeport)"
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
waitready() { # pid
  for _ in $(seq 1 2400); do
    if dig +short +norec +time=1 +tries=1 @127.0.0.1 -p "$sml_port" sml.test SOA 2>/dev/null | grep -q hostmaster; then return 0; fi
    kill -0 "$1" 2>/dev/null || { cat "$dir/sml.err" >&2; exit 1; }
    sleep 0.25
  done
  echo "signpost did not answer" >&2; exit 1
}
echo "zone of $N participants, source: $SOURCE"
if [ "$SOURCE" = binary ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" \
    -days 2 -subj /CN=bench -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
  cat >"$dir/sml.yaml" <<CONF
store:
  path: $dir/sml.db
log:
  format: text
  level: warn
ops:
  addr: 127.0.0.1:$(freeport)
dns:
  listen: 127.0.0.1:$sml_port
  allow_transfer: [127.0.0.1]
management:
  listen: 127.0.0.1:$(freeport)
  tls:
    cert: $dir/cert.pem
    key: $dir/key.pem
domains:
  - zone: sml.test
    records: [naptr, cname]
    hashing: scheme-label
    identifiers: peppol
    participant_schemes: ^iso6523-actorid-upis\$
    ttl: 60s
    soa:
      mname: ns1.sml.test.
      rname: hostmaster.sml.test.
      refresh: 1h
      retry: 10m
      expire: 336h
      minimum: 60s
    ns: [ns1.sml.test.]
    trusted_issuers: $dir/cert.pem
CONF
  "$bin" sml import --generate "$N" --smps 100 --zone sml.test "$dir/import.jsonl"
  t=$(now)
  "$bin" sml import --config "$dir/sml.yaml" "$dir/import.jsonl" </dev/null >"$dir/import.out" 2>&1 || { cat "$dir/import.out" >&2; exit 1; }
  echo "import: $(since "$t") s ($(tail -1 "$dir/import.out"))"
  rm -f "$dir/import.jsonl"
  t=$(now)
  "$bin" sml export-zone --config "$dir/sml.yaml" sml.test -o "$dir/sml.test.zone"
  echo "export-zone: $(since "$t") s"
  awk '$4 == "NAPTR" { print $1 " NAPTR" }' "$dir/sml.test.zone" | shuf -r -n 100000 --random-source=<(yes) >"$dir/queries.txt"
  t=$(now)
  "$bin" sml serve --config "$dir/sml.yaml" >"$dir/sml.out" 2>"$dir/sml.err" &
else
  go build -o "$dir/dnsbench" ./internal/dnstest/dnsbench
  t=$(now)
  "$dir/dnsbench" -n "$N" -listen "127.0.0.1:$sml_port" -zonefile "$dir/sml.test.zone" -queries "$dir/queries.txt" \
    >"$dir/sml.out" 2>"$dir/sml.err" &
fi
pids+=($!)
sml_pid=$!
waitready "$sml_pid"
start_s=$(since "$t")
sleep 1
rss_kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$sml_pid/status")
echo "signpost: answering after $start_s s; anonymous RSS ${rss_kb} kB"
t=$(now)
records=$(kdig +noall +answer @127.0.0.1 -p "$sml_port" sml.test AXFR 2>/dev/null | wc -l)
echo "AXFR: $records records in $(since "$t") s (kdig)"
echo "zone file: $(wc -l <"$dir/sml.test.zone") lines; queries: $(wc -l <"$dir/queries.txt") lines"

knot_port="$(freeport)"
mkdir -p "$dir/knot/db"
cat >"$dir/knot/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$knot_port
    rundir: "$dir/knot"
    pidfile: "$dir/knot/knot.pid"
    user: root:root
control:
    listen: "$dir/knot/knot.sock"
database:
    storage: "$dir/knot/db"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "$dir"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: sml.test
    file: "sml.test.zone"
CONF
knotc -c "$dir/knot/knot.conf" conf-check >/dev/null
knotd -c "$dir/knot/knot.conf" 2>"$dir/knot.err" &
pids+=($!)
waitdns "$knot_port"

run() { # name port
  local q
  q=$(dnsperf -s 127.0.0.1 -p "$2" -d "$dir/queries.txt" -l "$SECS" -c "$CLIENTS" 2>&1 | awk '/Queries per second:/ {print $4}')
  echo "$1 $q" | tee -a "$dir/results"
}
echo "dnsperf: $ROUNDS rounds of $SECS s each, A B A B (-c $CLIENTS)"
for _ in $(seq 1 "$ROUNDS"); do
  run knot "$knot_port"
  run signpost "$sml_port"
done
awk -v n="$N" '
  { v[$1] = v[$1] " " $2 }
  function median(s,   a, k, i, j, t) { k = split(s, a, " "); for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
  END { s = median(v["signpost"]); k = median(v["knot"])
        printf "RESULT dns zone=%d participants signpost=%.0f qps knot=%.0f qps ratio=%.2f\n", n, s, k, s / k }' "$dir/results"
