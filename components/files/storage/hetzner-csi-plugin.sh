#!/usr/bin/env bash
# Installs Hetzner's CSI driver as a Docker managed plugin (Swarm cluster volumes) at the pinned $PLUGIN,
# under the alias $ALIAS, with the API token from stdin; does nothing when that image is installed and enabled.
# Env: PLUGIN (image@digest), ALIAS. Stdin: the Hetzner API token.
set -euo pipefail
: "${PLUGIN:?}" "${ALIAS:?}"
token="$(cat)"
[ -n "$token" ] || { echo "error: no Hetzner API token on stdin" >&2; exit 1; }
current="$(docker plugin inspect -f '{{.PluginReference}} {{.Enabled}}' "$ALIAS" 2>/dev/null || true)"
if [ "$current" = "$PLUGIN true" ]; then echo "plugin $ALIAS ($PLUGIN) enabled" >&2; exit 0; fi
if [ -n "$current" ]; then
  docker plugin disable -f "$ALIAS" >/dev/null 2>&1 || true
  docker plugin rm -f "$ALIAS" >/dev/null
fi
docker plugin install --disable --alias "$ALIAS" --grant-all-permissions "$PLUGIN" >&2
docker plugin set "$ALIAS" HCLOUD_TOKEN="$token"
docker plugin enable "$ALIAS" >&2
echo "plugin $ALIAS ($PLUGIN) installed" >&2
