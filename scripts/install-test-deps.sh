#!/usr/bin/env bash
# Installs what the NAT lab tests (test/lab/) need: iproute2 (ip netns), iptables, conntrack.
# Idempotent and quiet when everything is present. Without root it only reports what is
# missing and exits 0: the lab tests then skip (loudly).
set -euo pipefail

# the tools live in sbin, which a non-login or sudo PATH may lack
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

missing=()
for tool in ip iptables conntrack; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    missing+=("$tool")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing: ${missing[*]} (not root: not installing; NAT lab tests will be skipped)" >&2
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing: ${missing[*]} (no apt-get: install iproute2, iptables, conntrack yourself; NAT lab tests will be skipped)" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends iproute2 iptables conntrack >/dev/null

still=()
for tool in ip iptables conntrack; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    still+=("$tool")
  fi
done
if [ "${#still[@]}" -ne 0 ]; then
  echo "install-test-deps: still missing after install: ${still[*]}" >&2
  exit 1
fi
