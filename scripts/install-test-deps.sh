#!/usr/bin/env bash
# Installs the Debian packages the tests drive as independent checkers (xmlsec1, xmllint, dig/kdig, BIND, Knot,
# dnsperf, wrk, nginx, openssl, systemd-analyze, curl, chromium for the console's browser tests, PostgreSQL for the postgres backend's throwaway
# clusters), only when one of their commands is missing.
set -euo pipefail
need=()
for c in xmlsec1 xmllint dig kdig named knotd dnsperf wrk nginx openssl systemd-analyze curl chromium; do
  if ! command -v "$c" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$c" ]; then need+=("$c"); fi
done
# PostgreSQL's server programs live in /usr/lib/postgresql/<version>/bin (internal/pgtest finds the newest).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need+=(postgresql); fi
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing test tools (missing: ${need[*]})"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "error: missing ${need[*]}; install as root: apt-get install xmlsec1 libxml2-utils bind9 bind9-dnsutils knot knot-dnsutils dnsperf wrk nginx-light openssl systemd curl chromium postgresql" >&2
    exit 1
  fi
fi
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
  xmlsec1 libxml2-utils bind9 bind9-dnsutils knot knot-dnsutils dnsperf wrk nginx-light openssl systemd curl chromium \
  postgresql
