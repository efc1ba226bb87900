#!/usr/bin/env bash
# The main job on the embedded default: the local sandbox.
#   bash scripts/local.sh [up] [N]   machines up (default 3), `pulumi up --stack local`, print what runs where
#   bash scripts/local.sh down       `pulumi destroy --stack local`, then remove every sandbox machine
#   bash scripts/local.sh --hetzner [up [MANAGERS WORKERS]]   a Hetzner environment with no account: the Hetzner
#                                    Cloud API emulator with real machines and volumes, stack `staging`'s shape
#                                    (default 3 managers + 2 workers) applied through the real hcloud provider
#                                    (tests/real/lib/hetzner-sim.sh; docs/sandbox.md). Not the sandbox singleton.
#   bash scripts/local.sh --hetzner down                      destroys it and removes its machines
set -euo pipefail
# shellcheck source=scripts/lib/local-stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/local-stack.sh"

if [ "${1:-}" = --hetzner ]; then
  shift
  # Its own names and public range (not the tests' hz-apply, 198.18.7.0/24), so a test can run beside it.
  HZ_PREFIX="${HZ_PREFIX:-hz-local}" HZ_SUBNET="${HZ_SUBNET:-198.18.9.0/24}"
  # shellcheck source=tests/real/lib/hetzner-sim.sh
  . "$MBIO_ROOT/tests/real/lib/hetzner-sim.sh"
  case "${1:-up}" in
    up) hz_local_up "${2:-3}" "${3:-2}" ;;
    down) hz_local_down ;;
    *) die "unknown action '$1'; usage: scripts/local.sh --hetzner [up [MANAGERS WORKERS] | down]" ;;
  esac
  exit 0
fi

action="${1:-up}"
case "$action" in
  up | [0-9]*)
    if [ $# -gt 0 ] && [ "$1" = up ]; then shift; fi
    n="${1:-${SANDBOX_MACHINES:-3}}"
    start=$SECONDS
    # Portainer's images take 30–60 min to build the first time: that build runs detached while this job goes
    # on without the control plane (the summary says "not built yet"); the next `bash scripts/local.sh` once
    # `bash scripts/portainer-build.sh --check` passes deploys it.
    if ! bash "$MBIO_ROOT/scripts/portainer-build.sh" --check; then
      bash "$MBIO_ROOT/scripts/portainer-build.sh" --background
    fi
    local_stack_prepare "$n"
    log "pulumi up --stack $LOCAL_STACK"
    pulumi_local up "${POLICY_PACK[@]}" --yes --skip-preview
    print_placement
    print_access
    log "done in $((SECONDS - start)) s. Next: 'source scripts/lib/pulumi-env.sh && pulumi stack output --stack local', 'bash scripts/local.sh down'"
    ;;
  down)
    if pulumi_stack_exists; then
      log "pulumi destroy --stack $LOCAL_STACK"
      pulumi_local destroy --yes --skip-preview || log "destroy failed; removing the machines anyway (their state goes with them)"
      (cd "$MBIO_ROOT" && pulumi --non-interactive stack rm --force --yes "$LOCAL_STACK" >/dev/null) || true
    fi
    bash "$MBIO_ROOT/sandbox/down.sh"
    ;;
  *) die "unknown action '$action'; usage: scripts/local.sh [up [N] | down]" ;;
esac
