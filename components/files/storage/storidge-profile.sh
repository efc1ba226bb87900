#!/usr/bin/env bash
# Adds or updates Storidge volume profile $PROFILE from the YAML on stdin; unchanged profiles are left alone.
# Env: PROFILE, PROFILE_DIR (default /etc/storidge/profiles)
set -euo pipefail
: "${PROFILE:?}"
dir="${PROFILE_DIR:-/etc/storidge/profiles}"
mkdir -p "$dir"
new="$(mktemp)"
trap 'rm -f "$new"' EXIT
cat >"$new"
if [ -f "$dir/$PROFILE" ] && cmp -s "$new" "$dir/$PROFILE" && cio profile ls 2>/dev/null | grep -qw "$PROFILE"; then
  echo "profile $PROFILE unchanged" >&2
  exit 0
fi
cp "$new" "$dir/$PROFILE"
cio profile add "$dir/$PROFILE" >&2
echo "profile $PROFILE installed" >&2
