#!/usr/bin/env bash
# SMP read speed: wrk against a signed ServiceMetadata GET of `signpost smp serve` vs nginx serving the same bytes
# as a static file, over plain HTTP and over HTTPS (the same certificate and key for both servers, keep-alive),
# alternating A B A B on the same machine. Prints req/s of both, the ratio and p99 latency for each protocol.
# Needs: go, wrk, nginx, openssl, curl, python3.
# Env: DURATION (default 10s), ROUNDS (default 2), PROTOCOLS (default "http https"), CONNS (default 32),
# KEEP=1 keeps the work directory (configs, logs, stores).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
PROTOCOLS=${PROTOCOLS:-http https}
CONNS=${CONNS:-32}
for tool in wrk nginx openssl curl python3; do
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
# plain one with the same public URL, so that both serve the same signed bytes. Each has its own ops port (an
# empty ops.addr means the default port, which a running SMP may hold).
smp_config() {
  local proto=$1 port=$2 tls=""
  [ "$proto" = https ] && tls=", tls: {cert: $work/cert.pem, key: $work/key.pem}"
  cat >"$work/smp-$proto.yaml" <<EOF
store: {path: $work/smp-$proto.db}
log: {level: warn}
ops: {addr: "127.0.0.1:$(freeport)"}
http: {listen: "127.0.0.1:$port"$tls}
smp_id: SMP-BENCH
public_url: http://smp.bench.test
signing: {cert: $work/cert.pem, key: $work/key.pem}
EOF
}
declare -A smp_url ng_url
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
  waitport "$port"
  smp_url[$proto]="$proto://127.0.0.1:$port$path"
done

mkdir -p "$work/www"
chmod 755 "$work" "$work/www" # nginx's workers may run as another user (nobody, when started as root)
first=${PROTOCOLS%% *}
curl -fsSk "${smp_url[$first]}" -o "$work/www/doc.xml"
bytes=$(wc -c <"$work/www/doc.xml")
for proto in $PROTOCOLS; do
  curl -fsSk "${smp_url[$proto]}" -o "$work/smp-$proto.xml"
  cmp -s "$work/www/doc.xml" "$work/smp-$proto.xml" || { echo "bench-smp: the SMP serves different bytes over $proto" >&2; exit 1; }
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
pids+=($!)
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

run() { # prints "req/s p99"
  local out
  out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$1")
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  echo "$rps $p99"
}
summary=()
echo "bench-smp: signed ServiceMetadata of $bytes bytes; wrk -t2 -c$CONNS -d$DURATION, keep-alive, $ROUNDS rounds alternating"
for proto in $PROTOCOLS; do
  if [ "$proto" = https ]; then
    echo "$proto: nginx $(tls_params "${ng_url[$proto]}"), signpost $(tls_params "${smp_url[$proto]}") (RSA-2048, the same certificate)"
  else
    echo "$proto:"
  fi
  smp_sum=0; ng_sum=0; smp_p99s=(); ng_p99s=()
  for r in $(seq 1 "$ROUNDS"); do
    read -r a ap99 < <(run "${ng_url[$proto]}")
    read -r b bp99 < <(run "${smp_url[$proto]}")
    printf '  round %d: nginx %10.0f req/s (p99 %s)   signpost %10.0f req/s (p99 %s)\n' "$r" "$a" "$ap99" "$b" "$bp99"
    ng_sum=$(python3 -c "print($ng_sum+$a)"); smp_sum=$(python3 -c "print($smp_sum+$b)")
    ng_p99s+=("$ap99"); smp_p99s+=("$bp99")
  done
  summary+=("$(python3 - "$proto" "$ng_sum" "$smp_sum" "$ROUNDS" "${ng_p99s[*]}" "${smp_p99s[*]}" <<'EOF'
import sys
proto, ng, smp, n = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
print(f"bench-smp {proto}: nginx {ng/n:.0f} req/s (p99 {sys.argv[5].replace(' ', ', ')}), "
      f"signpost {smp/n:.0f} req/s (p99 {sys.argv[6].replace(' ', ', ')}), ratio signpost/nginx {smp/ng:.2f}")
EOF
)")
done
printf '%s\n' "${summary[@]}"
