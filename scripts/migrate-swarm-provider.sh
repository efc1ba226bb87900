#!/usr/bin/env bash
# One-time state migration for a stack deployed before the Swarm provider (issue 8): node memberships, the
# platform network, stack deploys and the Swarm init used to be `command:remote:Command`s whose delete
# scripts drain and remove nodes, remove the network, `docker stack rm` the stacks and make the first
# manager leave the Swarm. The first `pulumi up` with the Swarm provider would create the new resources and
# then run those old deletes. This forgets the old commands in the state only (`pulumi state delete`,
# nothing on the servers runs); the next `pulumi up` adopts the live objects (membership and network
# scripts change nothing that is already right; deploys are idempotent; the Swarm resource finds the live
# Swarm through any manager). Joins stay: they are updated in place (their delete is dropped, never run).
#
#   bash scripts/migrate-swarm-provider.sh STACK        then: pulumi preview --stack STACK; pulumi up --stack STACK
# Env: MIGRATE_PROJECT_DIR (default: the repository root) — the Pulumi project holding STACK.
set -euo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/pulumi-env.sh"
stack="${1:?usage: scripts/migrate-swarm-provider.sh STACK}"
ensure_pulumi
command -v jq >/dev/null || ensure_apt_packages jq
cd "${MIGRATE_PROJECT_DIR:-$MBIO_ROOT}"
mapfile -t urns < <(pulumi --non-interactive stack export --stack "$stack" |
  jq -r '.deployment.resources[]? | select(.type == "command:remote:Command") | .urn
    | select(test("::[^:]*(-membership|-network|-deploy|-swarm-init)$"))')
if [ "${#urns[@]}" -eq 0 ]; then
  log "stack $stack holds no pre-provider Swarm commands: nothing to migrate"
  exit 0
fi
for urn in "${urns[@]}"; do
  log "forgetting $urn (state only)"
  pulumi --non-interactive state delete --stack "$stack" --yes "$urn" >/dev/null
done
log "done: ${#urns[@]} command(s) forgotten; run 'pulumi preview --stack $stack' (creates swarm:Node/Network/Stack/Swarm, deletes nothing on the Swarm)"
