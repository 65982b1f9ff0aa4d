# Sourced by scripts/install-*-deps.sh (bash); defines one function.
#
# forbid_service_starts NAME: until the calling script exits, installs a
# policy-rc.d that forbids Debian packages to start their services (they would
# start daemons such as nginx, coturn or tor with their packaged default
# configs). NAME (the calling script) is written into the file. A policy-rc.d
# already there is left alone; one this function wrote is removed on exit
# (an EXIT trap: the caller must not set its own).
forbid_service_starts() {
  local name="$1"
  _beam_policy=/usr/sbin/policy-rc.d
  _beam_own_policy=0
  if [ ! -e "$_beam_policy" ]; then
    printf '#!/bin/sh\n# installed by beam scripts/%s for the duration of an install\nexit 101\n' "$name" > "$_beam_policy"
    chmod 755 "$_beam_policy"
    _beam_own_policy=1
  fi
  trap '_beam_allow_service_starts' EXIT
}

_beam_allow_service_starts() { if [ "${_beam_own_policy:-0}" -eq 1 ]; then rm -f "$_beam_policy"; fi; }
