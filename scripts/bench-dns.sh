#!/usr/bin/env bash
# The SML against Knot (the reference) serving the same zone, at each zone size of SIZES, in one run on one machine:
#   - DNS queries per second with dnsperf, 90% existing participants' NAPTR names and 10% unknown names;
#   - RssAnon of each server when ready and after the transfers and queries (bytes per participant);
#   - time to ready from start (Signpost: /readyz green and a participant answered; Knot: the zone loaded and a
#     participant answered);
#   - AXFR of the whole zone with kdig;
#   - a Knot secondary's bootstrap (first AXFR) from Signpost and from the Knot primary, and its IXFR after 1,000
#     changes (NOTIFY, then IXFR): participants registered over SOAP on Signpost, the same records added to the
#     Knot primary by dynamic update;
#   - registrations per second over SOAP (mutual TLS): CreateList with 4 clients and 100 participants per call,
#     and single Creates with 64 concurrent clients, into the store of that size;
#   - at the sizes of PG_SIZES (default 100000; "" leaves it out): the store copied to PostgreSQL with
#     `signpost store copy` (its time), and a second Signpost node serving it from PostgreSQL, in the dnsperf
#     rotation beside the bbolt node (both answer from memory: the ratio should be 1 within noise). The PostgreSQL
#     cluster is a throwaway one (initdb, pg_ctl on a loopback port; as the postgres user under root).
# Each comparison alternates A B A B (ROUNDS rounds) and reports the median of each side and their ratio.
#
# The zones are built once per size through the real binary (`signpost sml import --generate`, `sml import`,
# `sml export-zone`) and cached in $CACHE (.benchcache/, git-ignored); each run works on a copy of the cached store.
# Everything listens on 127.0.0.1 only; every load is bounded in count and time.
#
# Env: SIZES (default "1000 100000 1000000"), SCALE (a bigger size to add, e.g. SCALE=10000000), ROUNDS (2),
# SECS (dnsperf seconds per run, 10), CLIENTS (dnsperf -c, 1), WRITE_SECS (seconds per registration load, 5),
# KNOT_MAX (a size above which Knot is left out, for a machine without memory for it: Knot takes about 1 KB per
# participant, 10 GB at 10M), CACHE (.benchcache), RESULTS (a file to append "dns|sml METRIC SUBJECT SIZE VALUE" lines to), KEEP=1 keeps the
# work directory, SIGNPOST_BIN (bin/signpost, built by `make bench`).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES="${SIZES:-1000 100000 1000000}"
[ -n "${SCALE:-}" ] && SIZES="$SIZES $SCALE"
ROUNDS="${ROUNDS:-2}"
SECS="${SECS:-10}"
CLIENTS="${CLIENTS:-1}"
WRITE_SECS="${WRITE_SECS:-5}"
CACHE="${CACHE:-.benchcache}"
bin="${SIGNPOST_BIN:-bin/signpost}"
for n in $SIZES; do
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 100 ] || { echo "bench-dns: size $n: a number of participants of at least 100" >&2; exit 1; }
done
for x in ROUNDS SECS CLIENTS WRITE_SECS; do
  [[ "${!x}" =~ ^[1-9][0-9]*$ ]] || { echo "bench-dns: $x=${!x}: a positive whole number" >&2; exit 1; }
done
PATH="$PATH:/usr/sbin"
for c in dnsperf knotd knotc dig kdig openssl curl python3 go; do
  command -v "$c" >/dev/null 2>&1 || { echo "bench-dns: $c is missing (scripts/install-test-deps.sh)" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "bench-dns: $bin is missing: run make build (or set SIGNPOST_BIN)" >&2; exit 1; }
PG_SIZES="${PG_SIZES-100000}"

dir="$(mktemp -d)"
mkdir -p "$CACHE"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "bench-dns: kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
# pg_start: a throwaway PostgreSQL cluster in $dir/pg on a free port (pg_port), stopped by pg_stop at exit.
pg_port=""
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_start() {
  local pgbin
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$pgbin" ] || { echo "bench-dns: PostgreSQL is missing (scripts/install-test-deps.sh)" >&2; exit 1; }
  chmod 755 "$dir"; mkdir -p "$dir/pg"
  [ "$(id -u)" = 0 ] && chown postgres "$dir/pg"
  as_pg "$pgbin/initdb" -D "$dir/pg/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
  pg_port=$(freeport)
  as_pg "$pgbin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/log" -o "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1" -w start >/dev/null
  PGBIN=$pgbin
  trap 'as_pg "$PGBIN/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null 2>&1 || true; cleanup' EXIT
}
stop() { # pid: stop one server we started and forget it
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print('%.3f' % ($(now) - $1))"; }
result() { echo "$*" >>"${RESULTS:-$dir/results}"; }
median() { python3 -c 'import statistics,sys; print("%.6g" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
ratio() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }
# report LABEL METRIC UNIT "SIGNPOST VALUES" "KNOT VALUES": prints the medians (and the ratio when Knot ran) and
# records them (uses $n).
report() {
  local s k
  s=$(median $4)
  result dns "$2" signpost "$n" "$s"
  if [ -n "$5" ]; then
    k=$(median $5)
    result dns "$2" knot "$n" "$k"
    echo "$1: signpost $s $3, knot $k $3 (medians of$4 and$5); ratio signpost/knot $(ratio "$s" "$k")"
  else
    echo "$1: signpost $s $3 (median of$4)"
  fi
}
rss() { awk '/^RssAnon:/ {print $2 * 1024}' "/proc/$1/status"; }
serial() { dig +short +norec +time=1 +tries=1 @127.0.0.1 -p "$1" sml.test SOA 2>/dev/null | awk '{print $3}'; }
# start_signpost BASE DNSPORT OPSPORT: starts `sml serve --config BASE.yaml` (output in BASE.out, BASE.err) and
# waits until /readyz is green and it answers $probe; its PID is in $started.
start_signpost() {
  "$bin" sml serve --config "$1.yaml" >"$1.out" 2>"$1.err" &
  started=$!
  pids+=("$started")
  for _ in $(seq 1 12000); do
    if curl -fs -o /dev/null "http://127.0.0.1:$3/readyz" && answers "$2" "$probe"; then break; fi
    kill -0 "$started" 2>/dev/null || { cat "$1.err" >&2; exit 1; }
    sleep 0.05
  done
  answers "$2" "$probe" || { echo "bench-dns: signpost ($1.yaml) did not get ready" >&2; exit 1; }
}
# answers PORT NAME: the name's NAPTR answers (AA) on PORT
answers() { dig +norec +time=1 +tries=1 @127.0.0.1 -p "$1" "$2" NAPTR 2>/dev/null | grep -q 'ANSWER: [1-9]'; }

go build -o "$dir/smlload" ./internal/bench/smlload
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" \
  -days 2 -subj /CN=bench -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null

# sml_config FILE STORE DNSPORT SOAPPORT OPSPORT NOTIFYPORT
sml_config() {
  cat >"$1" <<CONF
store:
  path: $2
log:
  format: text
  level: warn
ops:
  addr: 127.0.0.1:$5
dns:
  listen: 127.0.0.1:$3
  allow_transfer: [127.0.0.1]
  notify: [127.0.0.1:$6]
management:
  listen: 127.0.0.1:$4
  tls:
    cert: $dir/cert.pem
    key: $dir/key.pem
admin:
  listen: 127.0.0.1:$(freeport)
  token_file: $dir/admin.token
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
}

# knot_config DIR PORT [PRIMARYPORT] [NOTIFYPORT]: a Knot primary serving DIR/sml.test.zone (taking dynamic updates
# from loopback, keeping their changes in its journal for IXFR, and notifying a secondary on NOTIFYPORT), or a
# secondary of PRIMARYPORT.
knot_config() {
  local lvl=warning # a secondary logs its transfers (info)
  [ -n "${3:-}" ] && lvl=info
  mkdir -p "$1/db"
  {
    cat <<CONF
server:
    listen: 127.0.0.1@$2
    rundir: "$1"
    pidfile: "$1/knot.pid"
    user: root:root
control:
    listen: "$1/knot.sock"
database:
    storage: "$1/db"
log:
  - target: stderr
    any: $lvl
CONF
    if [ -n "${3:-}" ]; then
      cat <<CONF
remote:
  - id: primary
    address: 127.0.0.1@$3
acl:
  - id: notify_from_primary
    address: 127.0.0.1
    action: notify
template:
  - id: default
    storage: "$1"
zone:
  - domain: sml.test
    file: "sml.test.zone"
    master: primary
    acl: notify_from_primary
CONF
    else
      cat <<CONF
remote:
  - id: secondary
    address: 127.0.0.1@$4
acl:
  - id: transfer_to_loopback
    address: 127.0.0.1
    action: transfer
  - id: update_from_loopback
    address: 127.0.0.1
    action: update
template:
  - id: default
    storage: "$1"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: changes
zone:
  - domain: sml.test
    file: "sml.test.zone"
    acl: [transfer_to_loopback, update_from_loopback]
    notify: secondary
CONF
    fi
  } >"$1/knot.conf"
  knotc -c "$1/knot.conf" conf-check >/dev/null
}

# fixture N: the cached store, zone file and queries of N participants (built when missing). The cache key holds
# the store's schema version, so a change of layout builds the fixtures again.
schema=$(grep -hoE 'const SchemaVersion[^=]*= *[0-9]+' store/*.go 2>/dev/null | grep -oE '[0-9]+$' | head -1)
fixture() {
  local n=$1 f="$CACHE/sml-$1-schema${schema:-0}"
  if [ ! -e "$f/complete" ]; then
    rm -rf "$f"
    mkdir -p "$f"
    echo "bench-dns: building the $n-participant fixture in $f (once)" >&2
    sml_config "$f/build.yaml" "$f/sml.db" "$(freeport)" "$(freeport)" "$(freeport)" "$(freeport)"
    "$bin" sml import --generate "$n" --smps 100 --zone sml.test "$f/import.jsonl" >/dev/null
    local t
    t=$(now)
    "$bin" sml import --config "$f/build.yaml" "$f/import.jsonl" </dev/null >"$f/import.out" 2>&1 || { cat "$f/import.out" >&2; exit 1; }
    echo "bench-dns: import of $n: $(since "$t") s" >&2
    rm -f "$f/import.jsonl"
    "$bin" sml export-zone --config "$f/build.yaml" sml.test -o "$f/sml.test.zone"
    # 90% existing NAPTR names, 10% unknown ones (the same labels reversed: same length and alphabet, not in the
    # zone), shuffled; deterministic for a given zone.
    python3 - "$f/sml.test.zone" >"$f/queries.txt" <<'PY'
import random, sys
names = [l.split()[0] for l in open(sys.argv[1]) if l[:1] not in ";$" and l.split()[3:4] == ["NAPTR"]]
rnd = random.Random(14)
for i in range(100000):
    name = rnd.choice(names)
    if i % 10 == 9:
        label, rest = name.split(".", 1)
        name = label[::-1] + "." + rest
    print(name, "NAPTR")
PY
    rm -f "$f/build.yaml"
    touch "$f/complete"
  fi
  echo "$f"
}

for n in $SIZES; do
  f=$(fixture "$n")
  probe=$(awk '$4 == "NAPTR" { print $1; exit }' "$f/sml.test.zone")
  records=$(grep -vc '^[;$]' "$f/sml.test.zone" || true)
  echo "== zone of $n participants ($records records); load average $(cut -d' ' -f1-3 /proc/loadavg)"
  w="$dir/n$n"
  mkdir -p "$w/knot"
  cp --reflink=auto "$f/sml.db" "$w/sml.db"
  cp "$f/sml.test.zone" "$w/knot/sml.test.zone"
  sml_port=$(freeport); soap_port=$(freeport); ops_port=$(freeport); sec_port=$(freeport); knot_port=$(freeport)
  sec_knot_port=$(freeport)
  sml_config "$w/sml.yaml" "$w/sml.db" "$sml_port" "$soap_port" "$ops_port" "$sec_port"
  knot_config "$w/knot" "$knot_port" "" "$sec_knot_port"

  sides="knot signpost"
  if [ -n "${KNOT_MAX:-}" ] && [ "$n" -gt "$KNOT_MAX" ]; then
    sides="signpost"
    echo "(Knot left out at $n participants: KNOT_MAX=$KNOT_MAX)"
  fi
  has_knot() { [ "$sides" != signpost ]; }
  # Time to ready from start, A B A B: Knot loading the zone file, Signpost its store; the last start of each stays
  # up for the rest.
  declare -A ready=()
  knot_pid=""
  for r in $(seq 1 "$ROUNDS"); do
    if has_knot; then
      t=$(now)
      knotd -c "$w/knot/knot.conf" 2>"$w/knot.err" &
      knot_pid=$!
      pids+=("$knot_pid")
      for _ in $(seq 1 12000); do
        answers "$knot_port" "$probe" && break
        kill -0 "$knot_pid" 2>/dev/null || { cat "$w/knot.err" >&2; exit 1; }
        sleep 0.05
      done
      answers "$knot_port" "$probe" || { echo "bench-dns: knot did not get ready" >&2; exit 1; }
      ready[knot]="${ready[knot]:-} $(since "$t")"
    fi
    t=$(now)
    start_signpost "$w/sml" "$sml_port" "$ops_port"
    sml_pid=$started
    ready[signpost]="${ready[signpost]:-} $(since "$t")"
    if [ "$r" -lt "$ROUNDS" ]; then
      [ -n "$knot_pid" ] && stop "$knot_pid"
      stop "$sml_pid"
    fi
  done
  report ready ready_s s "${ready[signpost]}" "${ready[knot]:-}"
  r_s=$(rss "$sml_pid")
  result dns rss_ready_bytes signpost "$n" "$r_s"
  if has_knot; then
    r_k=$(rss "$knot_pid")
    result dns rss_ready_bytes knot "$n" "$r_k"
    echo "RssAnon when ready: signpost $((r_s / 1024)) kB ($((r_s / n)) B/participant), knot $((r_k / 1024)) kB ($((r_k / n)) B/participant)"
  else
    echo "RssAnon when ready: signpost $((r_s / 1024)) kB ($((r_s / n)) B/participant)"
  fi

  # AXFR, A B A B (before the queries: a server that builds the whole transfer in memory shows it in the RssAnon
  # after the queries).
  declare -A ax=()
  for _ in $(seq 1 "$ROUNDS"); do
    for who in $sides; do
      port=$knot_port; [ $who = signpost ] && port=$sml_port
      t=$(now)
      got=$(kdig +noall +answer +time=120 @127.0.0.1 -p "$port" sml.test AXFR 2>/dev/null | wc -l || true)
      s=$(since "$t")
      [ "$got" -ge "$records" ] || { echo "bench-dns: AXFR from $who gave $got records of $records" >&2; exit 1; }
      ax[$who]="${ax[$who]:-} $s"
    done
  done
  report AXFR axfr_s s "${ax[signpost]}" "${ax[knot]:-}"

  # At the sizes of PG_SIZES: the store copied to PostgreSQL, and a node serving it beside the bbolt one.
  qsides=$sides
  pg_pid=""
  if [[ " $PG_SIZES " == *" $n "* ]]; then
    [ -n "$pg_port" ] || pg_start
    as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE sml$n" >/dev/null
    dsn="postgres://postgres@127.0.0.1:$pg_port/sml$n?sslmode=disable"
    t=$(now)
    "$bin" store copy --from "bolt:$f/sml.db" --to "postgres:$dsn" >"$w/copy.out" 2>&1 </dev/null || { cat "$w/copy.out" >&2; exit 1; }
    copy_s=$(since "$t")
    echo "store copy of $n participants to PostgreSQL: $copy_s s ($(grep -o 'participants [0-9]*' "$w/copy.out" | head -1))"
    result dns pg_copy_s signpost "$n" "$copy_s"
    pg_dns=$(freeport); pg_ops=$(freeport)
    sml_config "$w/sml-pg.yaml" "$w/pg-node/sml.db" "$pg_dns" "$(freeport)" "$pg_ops" "$(freeport)"
    sed -i "s#^  path: $w/pg-node/sml.db#  backend: postgres\n  dsn: $dsn\n  path: $w/pg-node/sml.db#" "$w/sml-pg.yaml"
    mkdir -p "$w/pg-node"
    t=$(now)
    start_signpost "$w/sml-pg" "$pg_dns" "$pg_ops"
    pg_pid=$started
    pg_ready=$(since "$t")
    echo "node on PostgreSQL ready in $pg_ready s"
    result dns ready_s signpost-pg "$n" "$pg_ready"
    qsides="$sides signpost-pg"
  fi

  # dnsperf, A B A B.
  declare -A qps=()
  for _ in $(seq 1 "$ROUNDS"); do
    for who in $qsides; do
      port=$knot_port; [ $who = signpost ] && port=$sml_port; [ $who = signpost-pg ] && port=$pg_dns
      out=$(dnsperf -s 127.0.0.1 -p "$port" -d "$f/queries.txt" -l "$SECS" -c "$CLIENTS" 2>&1)
      q=$(awk '/Queries per second:/ {print $4}' <<<"$out")
      [ -n "$q" ] || { echo "bench-dns: dnsperf against $who failed: $out" >&2; exit 1; }
      echo "  dnsperf $who: $q qps ($(grep -o 'NXDOMAIN [0-9]* ([0-9.]*%)' <<<"$out" || echo 'no NXDOMAIN'))"
      qps[$who]="${qps[$who]:-} $q"
    done
  done
  report qps qps qps "${qps[signpost]}" "${qps[knot]:-}"
  if [ -n "$pg_pid" ]; then
    q_pg=$(median ${qps[signpost-pg]})
    q_bolt=$(median ${qps[signpost]})
    result dns qps signpost-pg "$n" "$q_pg"
    result dns qps_ratio_pg_bolt signpost "$n" "$(ratio "$q_pg" "$q_bolt")"
    echo "qps on PostgreSQL: $q_pg against $q_bolt on bbolt (medians of${qps[signpost-pg]} and${qps[signpost]}); ratio postgres/bolt $(ratio "$q_pg" "$q_bolt")"
    stop "$pg_pid"
  fi
  r_s=$(rss "$sml_pid")
  echo "RssAnon after the queries: signpost $((r_s / 1024)) kB ($((r_s / n)) B/participant)"
  result dns rss_bytes signpost "$n" "$r_s"
  if has_knot; then
    r_k=$(rss "$knot_pid")
    echo "RssAnon after the queries: knot $((r_k / 1024)) kB ($((r_k / n)) B/participant)"
    result dns rss_bytes knot "$n" "$r_k"
  fi

  # A Knot secondary's bootstrap, from Signpost and from the Knot primary in turn (A B A B); the last secondary of
  # each stays up for the IXFR.
  want=$(serial "$sml_port")
  ! has_knot || [ "$(serial "$knot_port")" = "$want" ] || echo "bench-dns: note: Knot's serial $(serial "$knot_port") differs from Signpost's $want"
  declare -A boot=()
  declare -A sec=()
  for r in $(seq 1 "$ROUNDS"); do
    for who in $sides; do
      [ -n "${sec[$who]:-}" ] && stop "${sec[$who]}"
      rm -rf "$w/sec-$who"
      primary=$knot_port; port=$sec_knot_port
      if [ $who = signpost ]; then primary=$sml_port; port=$sec_port; fi
      knot_config "$w/sec-$who" "$port" "$primary"
      t=$(now)
      knotd -c "$w/sec-$who/knot.conf" 2>"$w/sec-$who.err" &
      sec[$who]=$!
      pids+=("${sec[$who]}")
      for _ in $(seq 1 12000); do
        [ "$(serial "$port")" = "$want" ] && answers "$port" "$probe" && break
        kill -0 "${sec[$who]}" 2>/dev/null || { cat "$w/sec-$who.err" >&2; exit 1; }
        sleep 0.05
      done
      [ "$(serial "$port")" = "$want" ] || { echo "bench-dns: the secondary of $who did not get serial $want" >&2; exit 1; }
      boot[$who]="${boot[$who]:-} $(since "$t")"
    done
  done
  report "secondary bootstrap" bootstrap_s s "${boot[signpost]}" "${boot[knot]:-}"

  # 1,000 changes, then the secondary's IXFR after the NOTIFY, from the last acknowledgement until it serves the new
  # serial: Signpost's over SOAP (10 CreateLists of 100), Knot's by dynamic update (10 UPDATE messages of 100
  # NAPTR records, with knsupdate).
  soap="-url https://127.0.0.1:$soap_port -cert $dir/cert.pem -key $dir/key.pem -ca $dir/cert.pem -smp SMP-BENCH"
  "$dir/smlload" $soap -create-smp -prefix "ixfr$n" -clients 1 -per-call 100 -count 1000 -duration 120s >"$w/ixfr.out"
  t=$(now)
  want=$(serial "$sml_port")
  for _ in $(seq 1 6000); do
    [ "$(serial "$sec_port")" = "$want" ] && break
    sleep 0.02
  done
  [ "$(serial "$sec_port")" = "$want" ] || { echo "bench-dns: the secondary did not reach serial $want after the changes" >&2; exit 1; }
  ixfr=$(since "$t")
  # What the secondary did, from its log: "IXFR, incoming, ... finished" (or AXFR when it fell back).
  kind=$(grep -oE '(IXFR|AXFR), incoming, remote [^,]*, finished[^"]*' "$w/sec-signpost.err" | tail -1 || true)
  echo "IXFR after 1,000 changes ($(cat "$w/ixfr.out" | sed 's/smlload: //')): secondary at serial $want $ixfr s after the last acknowledgement; its log: ${kind:-no transfer logged}"
  result dns ixfr_s signpost "$n" "$ixfr"
  stop "${sec[signpost]}"
  if has_knot; then
    # The same records as a participant's: a NAPTR and a B- CNAME each.
    rdata=$(awk '$4 == "NAPTR" { $1 = $2 = $3 = $4 = ""; print; exit }' "$f/sml.test.zone")
    target=$(awk '$4 == "CNAME" { print $5; exit }' "$f/sml.test.zone")
    for b in $(seq 0 9); do
      for i in $(seq 0 99); do
        echo "update add ixfr-$n-$b-$i.iso6523-actorid-upis.sml.test. 60 IN NAPTR $rdata"
        echo "update add b-ixfr-$n-$b-$i.iso6523-actorid-upis.sml.test. 60 IN CNAME $target"
      done
      echo send
    done | sed "1i server 127.0.0.1 $knot_port\nzone sml.test." >"$w/updates.txt"
    # Over TCP, and a long timeout: Knot answers an UPDATE once it has applied it, which takes seconds on a big zone.
    if knsupdate -v -t 300 -r 0 "$w/updates.txt" >"$w/knsupdate.out" 2>&1; then
      t=$(now)
      want=$(serial "$knot_port")
      for _ in $(seq 1 6000); do
        [ "$(serial "$sec_knot_port")" = "$want" ] && break
        sleep 0.02
      done
      [ "$(serial "$sec_knot_port")" = "$want" ] || { echo "bench-dns: Knot's secondary did not reach serial $want after the updates" >&2; exit 1; }
      ixfr_k=$(since "$t")
      kind=$(grep -oE '(IXFR|AXFR), incoming, remote [^,]*, finished[^"]*' "$w/sec-knot.err" | tail -1 || true)
      echo "IXFR after 1,000 dynamic updates to Knot: secondary at serial $want $ixfr_k s after the last answer; its log: ${kind:-no transfer logged}; ratio signpost/knot $(ratio "$ixfr" "$ixfr_k")"
      result dns ixfr_s knot "$n" "$ixfr_k"
    else
      echo "bench-dns: Knot's IXFR reference left out at $n participants: knsupdate failed ($(grep -v '^$' "$w/knsupdate.out" | tail -1))"
    fi
    stop "${sec[knot]}"
  fi

  # Registrations over SOAP into this store: CreateList (4 clients, 100 per call), then single Creates (64 clients).
  out=$("$dir/smlload" $soap -prefix "list$n" -clients 4 -per-call 100 -count 1000000 -duration "${WRITE_SECS}s")
  echo "CreateList: ${out#smlload: }"
  result sml createlist_per_s signpost "$n" "$(sed 's/.*rate=//' <<<"$out")"
  out=$("$dir/smlload" $soap -prefix "one$n" -clients 64 -per-call 1 -count 1000000 -duration "${WRITE_SECS}s")
  echo "Create: ${out#smlload: }"
  result sml create_per_s signpost "$n" "$(sed 's/.*rate=//' <<<"$out")"

  [ -n "$knot_pid" ] && stop "$knot_pid"
  stop "$sml_pid"
  rm -rf "$w"
done
