#!/usr/bin/env bash
# SMP read speed: wrk against a signed ServiceMetadata GET of `signpost smp serve` vs nginx serving the same bytes
# as a static file, over plain HTTP and over HTTPS (the same certificate and key for both servers, keep-alive),
# alternating A B A B on the same machine. Prints req/s of both, the ratio and p99 latency for each protocol.
# Also prints the CPU time each server used per request (user + system, from /proc): on a shared machine the req/s
# of both move with what else runs, the CPU per request much less.
# With SIGNPERGET=1 (what `make bench` sets) a third server takes part: internal/bench/signperget, the same SMP
# server with a benchmark-only wrapper that re-signs the document on every GET (what SMPs that sign at read time
# do), to show what signing at write time saves. RESULTS=FILE appends "smp METRIC SERVER PROTO VALUE" lines.
# Needs: go, wrk, nginx, openssl, curl, python3 (and perf for PROFILE=1).
# Env: DURATION (default 10s), ROUNDS (default 2), PROTOCOLS (default "http https"), CONNS (default 32),
# KEEP=1 keeps the work directory (configs, logs, stores), PROFILE=1 then records the SMP with perf under the same
# load for each protocol and prints where its CPU time goes.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
PROTOCOLS=${PROTOCOLS:-http https}
CONNS=${CONNS:-32}
for tool in wrk nginx openssl curl python3 ${PROFILE:+perf}; do
  command -v "$tool" >/dev/null || { echo "bench-smp: $tool is missing (scripts/install-test-deps.sh)" >&2; exit 1; }
done
for proto in $PROTOCOLS; do
  case $proto in http|https) ;; *) echo "bench-smp: PROTOCOLS: $proto is neither http nor https" >&2; exit 1 ;; esac
done
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "bench-smp: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
waitport() { for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; return 1; }

go build -o "$work/signpost" ./cmd/signpost
[ -n "${SIGNPERGET:-}" ] && go build -o "$work/signperget" ./internal/bench/signperget
# One RSA-2048 key and certificate: the SMP signs with it, and both servers present it over TLS.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 \
  -subj "/CN=127.0.0.1/O=Signpost" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
cert_b64=$(openssl x509 -in "$work/cert.pem" -outform DER | base64 -w0)

p='iso6523-actorid-upis::9915:signpost-demo'
d='busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1'
cat >"$work/in.jsonl" <<EOF
{"service_group":{"participant":"$p"}}
{"service_metadata":{"participant":"$p","document_type":"$d","processes":[{"id":"cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0","endpoints":[{"transport_profile":"peppol-transport-as4-v2_0","address":"https://ap.signpost.test/as4","certificate":"$cert_b64","description":"bench","technical_contact_url":"mailto:bench@signpost.test"}]}]}}
EOF
path="/iso6523-actorid-upis%3A%3A9915%3Asignpost-demo/services/$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=""))' "$d")"

# smp_config PROTO PORT: one store per server (a store is locked by one process); the HTTPS one is a copy of the
# plain one with the same public URL (https, as an SMP serving HTTPS must announce), so that both serve the same
# signed bytes. Each has its own ops port and admin
# listener (empty, they mean the default ports, which the other SMP or a running one holds) and admin token file.
smp_config() {
  local proto=$1 port=$2 name=${3:-smp-$1} tls=""
  [ "$proto" = https ] && tls=", tls: {cert: $work/cert.pem, key: $work/key.pem}"
  cat >"$work/$name.yaml" <<EOF
store: {path: $work/$name.db}
log: {level: warn}
ops: {addr: "127.0.0.1:$(freeport)"}
admin: {listen: "127.0.0.1:$(freeport)", token_file: $work/$name-admin.token}
http: {listen: "127.0.0.1:$port"$tls}
smp_id: SMP-BENCH
public_url: https://smp.bench.test
signing: {cert: $work/cert.pem, key: $work/key.pem}
EOF
}
declare -A smp_url ng_url smp_pid spg_url spg_pid
http_port=$(freeport)
smp_config http "$http_port"
"$work/signpost" smp import --config "$work/smp-http.yaml" "$work/in.jsonl" >/dev/null
for proto in $PROTOCOLS; do
  port=$http_port
  if [ "$proto" = https ]; then
    port=$(freeport)
    smp_config https "$port"
    cp "$work/smp-http.db" "$work/smp-https.db"
  fi
  "$work/signpost" smp serve --config "$work/smp-$proto.yaml" 2>"$work/smp-$proto.log" &
  pids+=($!)
  smp_pid[$proto]=$!
  waitport "$port" || { echo "bench-smp: signpost smp serve over $proto did not start; its log:" >&2; cat "$work/smp-$proto.log" >&2; exit 1; }
  smp_url[$proto]="$proto://127.0.0.1:$port$path"
  if [ -n "${SIGNPERGET:-}" ]; then
    port=$(freeport)
    smp_config "$proto" "$port" "spg-$proto"
    cp "$work/smp-http.db" "$work/spg-$proto.db"
    "$work/signperget" --config "$work/spg-$proto.yaml" 2>"$work/spg-$proto.log" &
    pids+=($!)
    spg_pid[$proto]=$!
    waitport "$port" || { echo "bench-smp: signperget over $proto did not start; its log:" >&2; cat "$work/spg-$proto.log" >&2; exit 1; }
    spg_url[$proto]="$proto://127.0.0.1:$port$path"
  fi
done

mkdir -p "$work/www"
chmod 755 "$work" "$work/www" # nginx's workers may run as another user (nobody, when started as root)
first=${PROTOCOLS%% *}
curl -fsSk "${smp_url[$first]}" -o "$work/www/doc.xml"
bytes=$(wc -c <"$work/www/doc.xml")
for proto in $PROTOCOLS; do
  curl -fsSk "${smp_url[$proto]}" -o "$work/smp-$proto.xml"
  cmp -s "$work/www/doc.xml" "$work/smp-$proto.xml" || { echo "bench-smp: the SMP serves different bytes over $proto" >&2; exit 1; }
  if [ -n "${SIGNPERGET:-}" ]; then
    # Signing the same document again with the same key gives the same bytes (RSA PKCS#1 v1.5 is deterministic):
    # the re-signing server answers exactly what the SMP stored, so both do the same work but the signing.
    curl -fsSk "${spg_url[$proto]}" -o "$work/spg-$proto.xml"
    cmp -s "$work/www/doc.xml" "$work/spg-$proto.xml" || { echo "bench-smp: signperget serves different bytes over $proto" >&2; exit 1; }
  fi
done

ng_http=$(freeport)
ng_https=$(freeport)
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  client_body_temp_path $work/nginx/body; proxy_temp_path $work/nginx/proxy; fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi; scgi_temp_path $work/nginx/scgi;
  types { text/xml xml; }
  server { listen 127.0.0.1:$ng_http; root $work/www; }
  server {
    listen 127.0.0.1:$ng_https ssl; root $work/www;
    ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;
    # What Go's crypto/tls negotiates with the same client: TLS 1.3 (Debian's nginx 1.22 stops at 1.2 by
    # default), AES-128-GCM first.
    ssl_protocols TLSv1.2 TLSv1.3; ssl_prefer_server_ciphers on;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
  }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
ng_master=$!
pids+=($ng_master)
waitport "$ng_http"
waitport "$ng_https"
ng_url[http]="http://127.0.0.1:$ng_http/doc.xml"
ng_url[https]="https://127.0.0.1:$ng_https/doc.xml"
for proto in $PROTOCOLS; do
  curl -fsSk "${ng_url[$proto]}" | cmp -s - "$work/www/doc.xml" || { echo "bench-smp: nginx serves other bytes over $proto" >&2; exit 1; }
done

# tls_params URL: the protocol version and cipher a fresh OpenSSL client negotiates (what wrk gets).
tls_params() {
  local hostport=${1#https://}
  hostport=${hostport%%/*}
  openssl s_client -connect "$hostport" </dev/null 2>/dev/null |
    awk '/^New, / {v=$2; c=$NF} END {sub(",", "", v); print v, c}'
}

# cpu_ticks PID...: CPU time (user + system, all threads) the processes have used so far, in clock ticks.
cpu_ticks() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
hz=$(getconf CLK_TCK)
# run URL PID...: wrk against URL; prints "req/s p99 CPU-µs-per-request" where the CPU time is what PIDs used
# during the run. The CPU per request does not depend on how much of the machine the server got, so it is the
# figure to compare on a loaded machine.
run() {
  local url=$1 out rps p99 n t0 t1
  shift
  t0=$(cpu_ticks "$@")
  out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$url")
  t1=$(cpu_ticks "$@")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  n=$(awk '/ requests in / {print $1}' <<<"$out")
  if [ -z "$rps" ] || [ -z "$n" ] || [ "$n" -eq 0 ]; then
    echo "bench-smp: wrk completed no request against $url in $DURATION (a longer DURATION?); its output:" >&2
    echo "$out" >&2
    return 1
  fi
  echo "$rps $p99 $(python3 -c "print(f'{($t1 - $t0) * 1e6 / $hz / $n:.1f}')")"
}
ng_pids=$(ps -o pid= --ppid "$ng_master") # the workers; the master does no request work
[ -n "$ng_pids" ] || { echo "bench-smp: nginx has no worker processes" >&2; exit 1; }

# profile PROTO: perf record of the SMP under the same wrk load, summarised by where the time goes (self time by
# component, and the share of samples with a given step on the stack).
profile() {
  local proto=$1 secs
  secs=$(python3 -c "import sys,re; m=re.fullmatch(r'(\d+)([smh]?)', sys.argv[1]); print(max(1, int(m[1]) * {'': 1, 's': 1, 'm': 60, 'h': 3600}[m[2]] - 2))" "$DURATION")
  wrk -t2 -c"$CONNS" -d"$DURATION" "${smp_url[$proto]}" >"$work/perf-$proto.wrk" &
  local wrk_pid=$!
  sleep 1
  perf record -q -F 999 -g -p "${smp_pid[$proto]}" -o "$work/perf-$proto.data" -- sleep "$secs" 2>"$work/perf-$proto.err" ||
    { echo "bench-smp: perf record failed:" >&2; cat "$work/perf-$proto.err" >&2; wait "$wrk_pid" || true; return 1; }
  wait "$wrk_pid" || true
  echo "$proto profile of signpost smp serve (perf record -F 999 -g, ${secs}s under wrk -c$CONNS; data in $work/perf-$proto.data with KEEP=1):"
  perf script -i "$work/perf-$proto.data" -F ip,sym 2>/dev/null | python3 -c "$(cat <<'EOF'
import collections, sys
stacks, cur = [], []
for line in sys.stdin:
    f = line.split(None, 1)
    if not f:
        if cur: stacks.append(cur)
        cur = []
        continue
    cur.append((f[0].startswith("ffffffff"), f[1].strip() if len(f) > 1 else "?"))
if cur: stacks.append(cur)
if not stacks: sys.exit("bench-smp: perf recorded no samples")

def self_cat(st):
    kern = " ".join(s for k, s in st if k)
    user = [s for k, s in st if not k]
    if st[0][0]:  # in the kernel: by the Go function that entered it
        caller = " ".join(user[:6])
        if "syscall.write" in caller or "tcp_sendmsg" in kern or "ksys_write" in kern: return "kernel: write syscalls (TCP send over loopback)"
        if "syscall.read" in caller or "tcp_recvmsg" in kern or "ksys_read" in kern: return "kernel: read syscalls (TCP receive)"
        if caller.startswith(("runtime.", "internal/runtime")): return "kernel: Go runtime's sleeps and wake-ups (futex, epoll, nanosleep)"
        return "kernel: other (interrupts, preemption)"
    leaf, all_ = user[0], " ".join(user)
    if any(w in all_ for w in ("runtime.gcBgMarkWorker", "runtime.gcDrain", "runtime.bgsweep", "runtime.gcAssist")): return "Go GC (mark, sweep, assists)"
    if "runtime.mallocgc" in " ".join(user[:4]): return "Go allocation"
    if "/aes" in leaf or "gcmAes" in leaf or "/gcm." in leaf: return "AES-GCM"
    if leaf.startswith("crypto/"): return "crypto/tls (records, other crypto)"
    if "gin-gonic" in leaf: return "gin"
    if "signpost-project" in leaf: return "signpost (handler, middleware)"
    if "prometheus" in leaf: return "prometheus"
    if leaf.startswith(("net/http", "bufio", "net/textproto", "net/url", "strings.", "strconv", "bytes.", "unicode", "internal/bytealg", "context", "net/netip", "mime", "errors", "sync.")): return "net/http (request parsing, headers, buffering)"
    if leaf.startswith(("internal/poll", "net.", "syscall", "internal/syscall", "internal/runtime/syscall")): return "syscall wrappers, netpoll"
    if leaf.startswith(("runtime.", "internal/runtime", "time.", "__vdso")): return "Go runtime (scheduler, timers, maps, copies, clock)"
    return "other"

n = len(stacks)
print(f"  {n} samples; self time:")
for c, k in collections.Counter(self_cat(st) for st in stacks).most_common():
    print(f"    {100 * k / n:5.1f}%  {c}")
def has(st, *ws): return any(w in s for _, s in st for w in ws)
writes = ("crypto/tls.(*Conn).Write", "net/http.(*chunkWriter)", "bufio.(*Writer).Flush")
steps = [
    ("writing responses (write syscalls; TLS records over HTTPS)", lambda st: has(st, "crypto/tls.(*Conn).Write", "internal/poll.(*FD).Write")),
    ("  of which write syscalls", lambda st: has(st, "syscall.write", "internal/poll.(*FD).Write")),
    ("  of which encryption (AES-GCM, sealing)", lambda st: has(st, "crypto/tls.(*halfConn).encrypt")),
    ("reading and parsing requests (net/http readRequest)", lambda st: has(st, "net/http.(*conn).readRequest")),
    ("net/http per-request background read and its abort", lambda st: has(st, "net/http.(*connReader).backgroundRead", "net/http.(*connReader).abortPendingRead", "net/http.(*connReader).startBackgroundRead")),
    ("connection deadlines (Read/WriteTimeout, ReadHeaderTimeout)", lambda st: has(st, "SetReadDeadline", "SetWriteDeadline", "SetDeadline")),
    ("gin, middleware and the read handler, without the writes below them", lambda st: has(st, "gin.(*Engine).ServeHTTP") and not has(st, *writes)),
    ("Go GC and allocation", lambda st: has(st, "runtime.gcBgMarkWorker", "runtime.mallocgc", "runtime.bgsweep")),
    ("Go scheduler and netpoll (findRunnable, netpoll, sysmon)", lambda st: has(st, "runtime.schedule", "runtime.findRunnable", "runtime.sysmon", "runtime.netpoll")),
]
print("  share of samples with the step on the stack:")
for label, f in steps:
    print(f"    {100 * sum(1 for st in stacks if f(st)) / n:5.1f}%  {label}")
EOF
)"
}

summary=()
echo "bench-smp: signed ServiceMetadata of $bytes bytes; wrk -t2 -c$CONNS -d$DURATION, keep-alive, $ROUNDS rounds alternating; load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
for proto in $PROTOCOLS; do
  if [ "$proto" = https ]; then
    echo "$proto: nginx $(tls_params "${ng_url[$proto]}"), signpost $(tls_params "${smp_url[$proto]}") (RSA-2048, the same certificate)"
  else
    echo "$proto:"
  fi
  rows=()
  spg=()
  for r in $(seq 1 "$ROUNDS"); do
    res=$(run "${ng_url[$proto]}" $ng_pids); read -r a ap99 acpu <<<"$res"
    res=$(run "${smp_url[$proto]}" "${smp_pid[$proto]}"); read -r b bp99 bcpu <<<"$res"
    printf '  round %d: nginx %8.0f req/s (p99 %s, %s µs CPU/req)   signpost %8.0f req/s (p99 %s, %s µs CPU/req)   load %s\n' \
      "$r" "$a" "$ap99" "$acpu" "$b" "$bp99" "$bcpu" "$(cut -d' ' -f1 /proc/loadavg)"
    rows+=("$a $ap99 $acpu $b $bp99 $bcpu")
    if [ -n "${SIGNPERGET:-}" ]; then
      res=$(run "${spg_url[$proto]}" "${spg_pid[$proto]}"); read -r c cp99 ccpu <<<"$res"
      printf '           sign-per-GET %8.0f req/s (p99 %s, %s µs CPU/req)\n' "$c" "$cp99" "$ccpu"
      spg+=("$c $cp99 $ccpu")
    fi
  done
  if [ -n "${RESULTS:-}" ]; then
    python3 - "$proto" "${rows[@]}" "--" "${spg[@]}" >>"$RESULTS" <<'EOF'
import statistics, sys
proto, args = sys.argv[1], sys.argv[2:]
cut = args.index("--")
rows, spg = [r.split() for r in args[:cut]], [r.split() for r in args[cut + 1:]]
def out(server, rs, i):
    if rs:
        print(f"smp rps {server} {proto} {statistics.median(float(r[i]) for r in rs):.0f}")
        print(f"smp cpu_us {server} {proto} {statistics.median(float(r[i + 2]) for r in rs):.1f}")
out("nginx", rows, 0)
out("signpost", rows, 3)
out("signperget", spg, 0)
EOF
  fi
  summary+=("$(python3 - "$proto" "${rows[@]}" <<'EOF'
import sys
proto, rows = sys.argv[1], [r.split() for r in sys.argv[2:]]
mean = lambda i: sum(float(r[i]) for r in rows) / len(rows)
p99 = lambda i: ", ".join(r[i] for r in rows)
print(f"bench-smp {proto}: nginx {mean(0):.0f} req/s (p99 {p99(1)}; {mean(2):.1f} µs CPU/req), "
      f"signpost {mean(3):.0f} req/s (p99 {p99(4)}; {mean(5):.1f} µs CPU/req), "
      f"ratio signpost/nginx {mean(3) / mean(0):.2f} (by CPU per request {mean(2) / mean(5):.2f})")
EOF
)")
  if [ -n "${PROFILE:-}" ]; then profile "$proto"; fi
done
printf '%s\n' "${summary[@]}"
