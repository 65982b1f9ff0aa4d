#!/usr/bin/env bash
# Installs what the lab, Tor and I2P tests need from Debian: iproute2 (ip netns), iptables and conntrack
# for the NAT lab (test/lab/), coturn (turnserver) for the TURN case; tor (tor, tor-gencert)
# for the private Tor network of test/tor/ and strace for its leak check; and, through
# scripts/install-ator.sh, ATOR's anon and anon-gencert for test/ator/ (from npm, not Debian).
# Idempotent and quiet when everything is present. Without root it only reports what is
# missing and exits 0: the tests that need it then skip (loudly).
#
# Packages are installed with a policy-rc.d that forbids starting services: Debian's
# packages would otherwise start daemons (coturn, tor) with their default configs, which
# reach public networks. Tests only ever run them with configs they generate.
set -euo pipefail

# the tools live in sbin, which a non-login or sudo PATH may lack
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# ATOR's anon: not a Debian package; install-ator.sh fetches it with npm pack (checksummed).
# A failure (no registry access) is not fatal: test/ator then skips, saying why.
if ! bash "$(dirname "$0")/install-ator.sh" >/dev/null; then
  echo "install-test-deps: could not install anon (scripts/install-ator.sh failed): the ATOR tests will be skipped" >&2
fi

# tool:package
NEEDS=(ip:iproute2 iptables:iptables conntrack:conntrack turnserver:coturn tor:tor tor-gencert:tor strace:strace i2pd:i2pd socat:socat)

missing_tools=()
missing_pkgs=()
for pair in "${NEEDS[@]}"; do
  tool="${pair%%:*}"
  pkg="${pair#*:}"
  if ! command -v "$tool" >/dev/null 2>&1; then
    missing_tools+=("$tool")
    missing_pkgs+=("$pkg")
  fi
done

if [ "${#missing_tools[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing: ${missing_tools[*]} (not root: not installing; the tests needing them will be skipped)" >&2
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing: ${missing_tools[*]} (no apt-get: install ${missing_pkgs[*]} yourself; the tests needing them will be skipped)" >&2
  exit 0
fi

policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# installed by beam scripts/install-test-deps.sh for the duration of an install\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  own_policy=1
fi
cleanup() { if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
echo "install-test-deps: installing ${missing_pkgs[*]}" >&2
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null

still=()
for tool in "${missing_tools[@]}"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    still+=("$tool")
  fi
done
if [ "${#still[@]}" -ne 0 ]; then
  echo "install-test-deps: still missing after install: ${still[*]}" >&2
  exit 1
fi
