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

# shellcheck source=lib/apt-no-services.sh
source "$(dirname "$0")/lib/apt-no-services.sh"
forbid_service_starts install-bench-deps.sh

export DEBIAN_FRONTEND=noninteractive
echo "install-bench-deps: installing nginx-light" >&2
apt-get update -qq >/dev/null
# nginx-light was folded into nginx in newer Debian releases: try it first, then nginx
apt-get install -y -qq --no-install-recommends nginx-light >/dev/null 2>&1 || apt-get install -y -qq --no-install-recommends nginx >/dev/null
command -v nginx >/dev/null 2>&1 || { echo "install-bench-deps: nginx still missing after install" >&2; exit 1; }
