#!/usr/bin/env bash
# Makes the connecting user's ~/.ssh/authorized_keys exactly the keys read from stdin (one OpenSSH public
# key per line): keys added in config can log in after `pulumi up`, keys removed from it are refused. The
# key Pulumi itself connects with (DEPLOY_KEY, "type base64") must be among them, or nothing is written:
# a config that would lock the platform out is refused here, before it takes effect.
# Env: DEPLOY_KEY. Stdin: the keys.
set -euo pipefail
: "${DEPLOY_KEY:?DEPLOY_KEY must be the public key of the SSH key Pulumi uses}"
keys="$(grep -E '^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) ' || true)"
if ! grep -qF -- "$DEPLOY_KEY" <<<"$keys"; then
  echo "error: mbio-cloud:sshPublicKeys does not contain the public key of mbio-cloud:sshPrivateKey ($(cut -c1-40 <<<"$DEPLOY_KEY")…);" \
    "writing it would lock Pulumi out of this machine. Add that key to sshPublicKeys (or rotate the private key first)." >&2
  exit 1
fi
dir="$HOME/.ssh"
file="$dir/authorized_keys"
install -d -m 0700 "$dir"
if [ -f "$file" ] && [ "$(cat "$file")" = "$keys" ]; then
  echo "authorized-keys: unchanged $file ($(wc -l <<<"$keys") key(s))" >&2
  exit 0
fi
tmp="$(mktemp "$dir/.authorized_keys.XXXXXX")"
printf '%s\n' "$keys" >"$tmp"
chmod 0600 "$tmp"
mv "$tmp" "$file"
echo "authorized-keys: changed $file ($(wc -l <<<"$keys") key(s))" >&2
