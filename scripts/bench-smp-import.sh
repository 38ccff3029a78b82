#!/usr/bin/env bash
# SMP bulk speed: generates an import file of N service groups with one signed document type each (default
# 100,000), then times `signpost smp import` into an empty store, the same import again (idempotent: nothing
# re-signed) and `signpost smp export`. Needs: go, openssl, python3. Env: N (default 100000).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
for tool in openssl python3; do
  command -v "$tool" >/dev/null || { echo "bench-smp-import: $tool is missing (scripts/install-test-deps.sh)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/signpost" ./cmd/signpost
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 -subj "/CN=bench SMP/O=Signpost" 2>/dev/null
openssl x509 -in "$work/cert.pem" -outform DER | base64 -w0 >"$work/cert.b64"
cat >"$work/smp.yaml" <<YAML
store: {path: $work/smp.db}
log: {level: warn}
ops: {addr: ""}
smp_id: SMP-BENCH
public_url: http://smp.bench.test
signing: {cert: $work/cert.pem, key: $work/key.pem}
YAML
python3 - "$N" "$work/cert.b64" >"$work/in.jsonl" <<'PY'
import json, sys
n, cert = int(sys.argv[1]), open(sys.argv[2]).read().strip()
d = "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
out = sys.stdout
out.write(json.dumps({"owner": {"name": "bulk"}}) + "\n")
for i in range(n):
    p = "iso6523-actorid-upis::9915:bench%07d" % i
    out.write(json.dumps({"service_group": {"participant": p, "owner": "bulk"}}) + "\n")
    out.write(json.dumps({"service_metadata": {"participant": p, "document_type": d, "processes": [{
        "id": "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0",
        "endpoints": [{"transport_profile": "peppol-transport-as4-v2_0", "address": "https://ap%d.bench.test/as4" % (i % 100),
                       "certificate": cert, "description": "bench", "technical_contact_url": "mailto:ops@bench.test"}]}]}}) + "\n")
PY
echo "bench-smp-import: $N service groups with one document type each ($(du -h "$work/in.jsonl" | cut -f1)), $(nproc) cores"
t() { local s e; s=$(date +%s.%N); "$@" >"$work/out.txt" 2>&1 || { cat "$work/out.txt"; exit 1; }; e=$(date +%s.%N); python3 -c "print('%.1f' % ($e - $s))"; }
first=$(t "$work/signpost" smp import --config "$work/smp.yaml" "$work/in.jsonl")
echo "import (empty store):     ${first} s   $(tail -1 "$work/out.txt")"
second=$(t "$work/signpost" smp import --config "$work/smp.yaml" "$work/in.jsonl")
echo "import again (idempotent): ${second} s   $(tail -1 "$work/out.txt")"
exp=$(t "$work/signpost" smp export --config "$work/smp.yaml" "$work/out.jsonl")
echo "export:                   ${exp} s   $(wc -l <"$work/out.jsonl") records, store $(du -h "$work/smp.db" | cut -f1)"

# Memory: serve the store, read every participant's metadata once, then report anonymous resident memory.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s#^ops: .*#ops: {addr: \"\"}\nhttp: {listen: 127.0.0.1:$port}#" "$work/smp.yaml"
"$work/signpost" smp serve --config "$work/smp.yaml" 2>"$work/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$port" "$N" <<'PY'
import http.client, sys, time, urllib.parse
port, n = int(sys.argv[1]), int(sys.argv[2])
for _ in range(100):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10); c.connect(); break
    except OSError:
        time.sleep(0.1)
d = urllib.parse.quote("busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1", safe="")
bad = 0
for i in range(n):
    c.request("GET", "/%s/services/%s" % (urllib.parse.quote("iso6523-actorid-upis::9915:bench%07d" % i, safe=""), d))
    r = c.getresponse(); r.read()
    bad += r.status != 200
if bad:
    sys.exit("bench-smp-import: %d GETs did not answer 200" % bad)
PY
echo "serve after one GET of every document: $(grep -E 'RssAnon' /proc/$pid/status | tr -s ' \t' ' ')  ($N service groups)"
kill $pid; wait $pid 2>/dev/null || true
