# shellcheck shell=bash
# Prerequisites on a node for restore.sh and swarm-raft.sh, each failing with its real cause, and restic
# where the node has none: it runs in a helper container of the backup-agent image (lib.sh helper_run).
# Sourced after lib.sh, never run.

require_docker() {
  command -v docker >/dev/null 2>&1 || fail "docker is not installed on $(hostname): is this a node of the environment?"
  docker info >/dev/null 2>&1 || fail "cannot talk to the Docker engine on $(hostname) as $(id -un) (engine stopped, or the user is neither root nor in group docker)"
}
swarm_state() { docker info -f '{{.Swarm.LocalNodeState}}'; }
is_manager() { [ "$(docker info -f '{{.Swarm.ControlAvailable}}')" = true ]; }

# AGENT_IMAGE: as given, else the image of this node's backup_agent task (any node, workers too), else,
# on a manager, the image of the backup_agent service.
find_agent_image() {
  [ -n "${AGENT_IMAGE:-}" ] && return 0
  require_docker
  local c state
  c="$(docker ps -q --filter label=com.docker.swarm.service.name=backup_agent | head -n1)"
  if [ -n "$c" ]; then
    AGENT_IMAGE="$(docker inspect -f '{{.Config.Image}}' "$c")"
    export AGENT_IMAGE
    return 0
  fi
  state="$(swarm_state)"
  [ "$state" = active ] || fail "$(hostname) is not part of a Swarm (state: $state): point the tool at a node of the environment"
  if ! is_manager; then
    fail "no backup agent task runs on $(hostname), and a worker cannot read the service: on a manager, 'docker service ps backup_agent' shows whether the backup stack is deployed and why its task is not running here (or set AGENT_IMAGE)"
  fi
  AGENT_IMAGE="$(docker service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' backup_agent 2>/dev/null)" \
    || fail "this Swarm has no backup stack (service backup_agent does not exist): set backup.enabled in the stack file and run pulumi up"
  info "no backup agent task runs on $(hostname) ('docker service ps backup_agent' says why); using the service's image"
  export AGENT_IMAGE
}

# restic (and curl, for lib.sh check_bucket) live in the backup-agent image; a node has Docker only.
# shellcheck disable=SC2317 # the functions are called by lib.sh and the scripts
use_helper_tools() {
  if ! command -v restic >/dev/null 2>&1; then restic() { helper_run -- restic "$@" </dev/null; }; fi
  # curl's stdin is forwarded: check_bucket hands it the S3 keys as a config there (-K -).
  if ! command -v curl >/dev/null 2>&1; then curl() { HELPER_STDIN=1 helper_run -- curl "$@"; }; fi
}
