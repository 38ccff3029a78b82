#!/usr/bin/env bash
# SMP read speed: wrk against a signed ServiceMetadata GET of `signpost smp serve` vs nginx serving the same bytes
# as a static file, alternating A B A B on the same machine. Prints req/s of both, the ratio and p99 latency.
# Needs: go, wrk, nginx, openssl, curl, python3. Env: DURATION (default 10s), ROUNDS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
for tool in wrk nginx openssl curl python3; do
  command -v "$tool" >/dev/null || { echo "bench-smp: $tool is missing (scripts/install-test-deps.sh)" >&2; exit 1; }
done
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
waitport() { for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; return 1; }

go build -o "$work/signpost" ./cmd/signpost
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 -subj "/CN=bench SMP/O=Signpost" 2>/dev/null
cert_b64=$(openssl x509 -in "$work/cert.pem" -outform DER | base64 -w0)

smp_port=$(freeport)
cat >"$work/smp.yaml" <<EOF
store: {path: $work/smp.db}
log: {level: warn}
ops: {addr: ""}
http: {listen: "127.0.0.1:$smp_port"}
smp_id: SMP-BENCH
public_url: http://127.0.0.1:$smp_port
signing: {cert: $work/cert.pem, key: $work/key.pem}
EOF
p='iso6523-actorid-upis::9915:signpost-demo'
d='busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1'
cat >"$work/in.jsonl" <<EOF
{"service_group":{"participant":"$p"}}
{"service_metadata":{"participant":"$p","document_type":"$d","processes":[{"id":"cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0","endpoints":[{"transport_profile":"peppol-transport-as4-v2_0","address":"https://ap.signpost.test/as4","certificate":"$cert_b64","description":"bench","technical_contact_url":"mailto:bench@signpost.test"}]}]}}
EOF
"$work/signpost" smp import --config "$work/smp.yaml" "$work/in.jsonl" >/dev/null
"$work/signpost" smp serve --config "$work/smp.yaml" 2>"$work/smp.log" &
pids+=($!)
waitport "$smp_port"
path="/iso6523-actorid-upis%3A%3A9915%3Asignpost-demo/services/$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=""))' "$d")"
smp_url="http://127.0.0.1:$smp_port$path"
mkdir -p "$work/www"
curl -fsS "$smp_url" -o "$work/www/doc.xml"
bytes=$(wc -c <"$work/www/doc.xml")

ng_port=$(freeport)
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
  server { listen 127.0.0.1:$ng_port; root $work/www; }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
waitport "$ng_port"
ng_url="http://127.0.0.1:$ng_port/doc.xml"

run() { # prints "req/s p99"
  local out
  out=$(wrk -t2 -c32 -d"$DURATION" --latency "$1")
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  echo "$rps $p99"
}
echo "bench-smp: signed ServiceMetadata of $bytes bytes; wrk -t2 -c32 -d$DURATION, $ROUNDS rounds alternating"
smp_sum=0; ng_sum=0
for r in $(seq 1 "$ROUNDS"); do
  read -r a ap99 < <(run "$ng_url")
  read -r b bp99 < <(run "$smp_url")
  printf '  round %d: nginx %10.0f req/s (p99 %s)   signpost %10.0f req/s (p99 %s)\n' "$r" "$a" "$ap99" "$b" "$bp99"
  ng_sum=$(python3 -c "print($ng_sum+$a)"); smp_sum=$(python3 -c "print($smp_sum+$b)")
done
python3 - "$ng_sum" "$smp_sum" "$ROUNDS" <<'EOF'
import sys
ng, smp, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f"bench-smp: nginx {ng/n:.0f} req/s, signpost {smp/n:.0f} req/s, ratio signpost/nginx {smp/ng:.2f}")
EOF
