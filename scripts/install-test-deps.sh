#!/usr/bin/env bash
# Installs what the lab, Tor and I2P tests need from Debian: iproute2 (ip netns), iptables and conntrack
# for the NAT lab (test/lab/), coturn (turnserver) for the TURN case; tor (tor, tor-gencert)
# for the private Tor network of test/backends/tor/ and strace for its leak check; and, through
# scripts/install-ator.sh, ATOR's anon and anon-gencert for test/backends/ator/ (from npm, not Debian);
# pebble and pebble-challtestsrv (a loopback ACME CA) and openssl for the gateway's certificate tests,
# chromium for its browser test (driven by playwright-core);
# socat; openssh-server and openssh-client (sshd, ssh, ssh-keygen) for the ProxyCommand test of
# test/e2e/stdio.test.ts; zbar-tools (zbarimg) to decode the QR codes of test/unit/cli/qr.test.ts.
# Idempotent and quiet when everything is present. Without root (or apt-get) it only
# reports what is missing and exits 0: the tests that need it then skip (loudly). In CI
# (CI set to anything but '', '0' or 'false', as CI services set CI=true) anything it cannot
# install is an error (exit 1): a CI run may not pass by skipping tests (the test suites
# fail on their own too: test/helpers/require-tools.ts).
#
# Packages are installed with a policy-rc.d that forbids starting services: Debian's
# packages would otherwise start daemons (coturn, tor) with their default configs, which
# reach public networks. Tests only ever run them with configs they generate.
set -euo pipefail

# the tools live in sbin, which a non-login or sudo PATH may lack
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

in_ci() { case "${CI:-}" in ''|0|false|FALSE|False) return 1 ;; *) return 0 ;; esac; }
# What happens to the tests without a tool: skipped on a laptop, a failed run in CI.
if in_ci; then consequence="CI is set: failing, as the tests needing them would"; else consequence="the tests needing them will be skipped"; fi
give_up() { echo "install-test-deps: $1 ($consequence)" >&2; if in_ci; then exit 1; fi; exit 0; }

# ATOR's anon: not a Debian package; install-ator.sh fetches it with npm pack (checksummed).
# Without it (no registry access, not linux-x64) test/backends/ator skips, saying why, or fails in CI.
anon_dir="$(bash "$(dirname "$0")/install-ator.sh" || true)"
if [ -z "$anon_dir" ] || [ ! -x "$anon_dir/anon" ] || [ ! -x "$anon_dir/anon-gencert" ]; then
  echo "install-test-deps: could not install anon and anon-gencert (scripts/install-ator.sh failed or is not for this platform)" >&2
  if in_ci; then echo "install-test-deps: CI is set: failing, as the ATOR tests would" >&2; exit 1; fi
  echo "install-test-deps: the ATOR tests will be skipped" >&2
fi

# tool:package
NEEDS=(ip:iproute2 iptables:iptables conntrack:conntrack turnserver:coturn tor:tor tor-gencert:tor strace:strace i2pd:i2pd socat:socat pebble:pebble pebble-challtestsrv:pebble chromium:chromium openssl:openssl sshd:openssh-server ssh:openssh-client ssh-keygen:openssh-client zbarimg:zbar-tools)

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
  give_up "missing: ${missing_tools[*]} (not root: not installing)"
fi

if ! command -v apt-get >/dev/null 2>&1; then
  give_up "missing: ${missing_tools[*]} (no apt-get: install ${missing_pkgs[*]} yourself)"
fi

# shellcheck source=lib/apt-no-services.sh
source "$(dirname "$0")/lib/apt-no-services.sh"
forbid_service_starts install-test-deps.sh

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
