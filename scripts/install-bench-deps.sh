#!/usr/bin/env bash
# Installs what `npm run bench:gateway` (bench/gateway.ts, also run by `npm run bench`) compares
# beam's gateway with: Debian's nginx (nginx-light is enough: the bench needs only the proxy and
# upstream modules). The bench runs nginx with a config it writes for loopback, never the packaged
# one; the package is installed with a policy-rc.d that forbids starting services, so Debian does
# not start nginx on port 80 with its default site.
# Idempotent and quiet when nginx is present. Without root (or apt-get) it only reports what is
# missing and exits 0: the bench then compares with a node:http proxy and says so in its output.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

if command -v nginx >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-bench-deps: nginx is missing and cannot be installed here (needs root and apt-get); the gateway bench will compare with a node:http proxy" >&2
  exit 0
fi

policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# installed by beam scripts/install-bench-deps.sh for the duration of an install\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  own_policy=1
fi
cleanup() { if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
echo "install-bench-deps: installing nginx-light" >&2
apt-get update -qq >/dev/null
# nginx-light was folded into nginx in newer Debian releases: try it first, then nginx
apt-get install -y -qq --no-install-recommends nginx-light >/dev/null 2>&1 || apt-get install -y -qq --no-install-recommends nginx >/dev/null
command -v nginx >/dev/null 2>&1 || { echo "install-bench-deps: nginx still missing after install" >&2; exit 1; }
