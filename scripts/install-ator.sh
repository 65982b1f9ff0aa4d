#!/usr/bin/env bash
# Fetches the Anyone Protocol (ATOR) relay binaries `anon` and `anon-gencert` for the ATOR
# tests (test/backends/ator/) and for users who want `beam --backend ator` without a system anon.
#
# They ship inside the npm package @anyone-protocol/anyone-client (BSD-3-Clause). That
# package is NOT a dependency of beam: its postinstall downloads from GitHub, which would
# break `npm install` offline. Instead this script runs `npm pack` (which runs no install
# scripts), checks the tarball's SHA-256 and the binaries' SHA-256 against the values
# recorded below, and extracts only the two linux-x64 binaries into
#   ${BEAM_ATOR_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/beam/ator-1.1.3}/
# Idempotent: exits at once when the binaries are already there with the right checksums.
# Prints the directory on stdout. Anything but linux-x64: says so and exits 0 (the ATOR
# tests then skip loudly).
set -euo pipefail

VERSION=1.1.3
PKG="@anyone-protocol/anyone-client@${VERSION}"
TGZ_SHA256=50521e65998ad3108b13a26df868db539fe4f108d8d8bf4b71130e4c4fe1538f
ANON_SHA256=ec00c60c185530465fa270c05d7b0ebf507fec9ac970f5a58c3be75247101e1c
GENCERT_SHA256=ce09a13c86fa7e604eaf66e06795dea9287bd2a93b19caffb96c64f0a6cebb77
DIR="${BEAM_ATOR_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/beam/ator-${VERSION}}"

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "install-ator: ${PKG} ships linux-x64 binaries only (this is $(uname -s)-$(uname -m)); install anon yourself and pass --anon-binary" >&2
  exit 0
fi

ok() { [ -x "$DIR/anon" ] && [ -x "$DIR/anon-gencert" ] \
  && echo "$ANON_SHA256  $DIR/anon" | sha256sum -c --quiet - >/dev/null 2>&1 \
  && echo "$GENCERT_SHA256  $DIR/anon-gencert" | sha256sum -c --quiet - >/dev/null 2>&1; }

if ok; then echo "$DIR"; exit 0; fi

mkdir -p "$DIR"
work="$(mktemp -d "${TMPDIR:-/tmp}/beam-ator-pack-XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "install-ator: fetching ${PKG} with npm pack (no install scripts run)" >&2
(cd "$work" && npm pack "$PKG" --silent >/dev/null)
tgz="$work/anyone-protocol-anyone-client-${VERSION}.tgz"
if ! echo "$TGZ_SHA256  $tgz" | sha256sum -c --quiet - >/dev/null 2>&1; then
  echo "install-ator: checksum mismatch for ${PKG} (expected ${TGZ_SHA256}): not installing" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$work" package/bin/linux/x64/anon package/bin/linux/x64/anon-gencert
install -m 0755 "$work/package/bin/linux/x64/anon" "$DIR/anon.tmp"
install -m 0755 "$work/package/bin/linux/x64/anon-gencert" "$DIR/anon-gencert.tmp"
mv "$DIR/anon.tmp" "$DIR/anon"
mv "$DIR/anon-gencert.tmp" "$DIR/anon-gencert"
if ! ok; then
  echo "install-ator: the extracted binaries do not match the recorded checksums" >&2
  rm -f "$DIR/anon" "$DIR/anon-gencert"
  exit 1
fi
echo "install-ator: anon and anon-gencert ${VERSION} in $DIR" >&2
echo "$DIR"
