#!/usr/bin/env bash
# Installs Storidge CIO at the pinned $STORIDGE_VERSION unless that version is already installed, and
# checks that the three raw block devices it needs are present and unformatted.
# Env: STORIDGE_VERSION (e.g. v1.0.0-3448), DEVICES (space-separated by-id paths of the attached volumes),
#      STORIDGE_INSTALL_URL (the installer of that version).
set -euo pipefail
: "${STORIDGE_VERSION:?}" "${DEVICES:?}" "${STORIDGE_INSTALL_URL:?}"
for d in $DEVICES; do
  for _ in $(seq 1 60); do [ -e "$d" ] && break; sleep 2; done
  [ -e "$d" ] || { echo "error: block device $d is not attached" >&2; exit 1; }
  if [ -n "$(lsblk -no FSTYPE "$d" 2>/dev/null | tr -d '[:space:]')" ] && ! command -v cio >/dev/null; then
    echo "error: $d carries a filesystem; Storidge needs raw, unformatted devices (was the volume created with format?)" >&2
    exit 1
  fi
done
if command -v cio >/dev/null && cio version 2>/dev/null | grep -q -- "${STORIDGE_VERSION#v}"; then
  echo "Storidge $STORIDGE_VERSION already installed" >&2
  exit 0
fi
echo "installing Storidge $STORIDGE_VERSION" >&2
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
curl -fsSL --retry 3 "$STORIDGE_INSTALL_URL" -o "$tmp"
bash "$tmp"
cio version >&2
