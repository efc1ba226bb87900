# shellcheck shell=bash
# One machine of a real test's own, from the sandbox's machine image (not the sandbox singleton: no lock
# needed), reachable as root over SSH with a key of the test's own.
#   lab_machine NAME WORK [docker-run-args...]
# starts NAME (replacing a leftover of an earlier run) with sandbox/lib.sh's machine_start, writes
# WORK/key(.pub), waits for sshd and dockerd and sets LAB_IP. Needs Docker and the image (sandbox/up.sh builds
# it once; LAB_MACHINE_IMAGE names another build of sandbox/machine). Fails, saying what it waited for, when
# the machine does not come up.
# shellcheck source=sandbox/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/sandbox/lib.sh"
lab_machine() {
  local name="$1" work="$2" image="${LAB_MACHINE_IMAGE:-}"
  shift 2
  [ -n "$image" ] || image="$(sandbox_machine_image)"
  [ -n "$image" ] || { echo "no sandbox machine image: run sandbox/up.sh once"; return 1; }
  docker rm -f "$name" >/dev/null 2>&1
  machine_start "$name" "$image" "$@" || return 1
  # shellcheck disable=SC2034 # read by the test that sources this file
  LAB_IP="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name")"
  ssh-keygen -q -t ed25519 -N '' -f "$work/key" <<<y >/dev/null
  wait_for "docker and sshd in $name" 120 docker exec "$name" systemctl is-active --quiet docker ssh || return 1
  docker exec -i "$name" sh -c "install -d -m 700 /root/.ssh && cat >/root/.ssh/authorized_keys" <"$work/key.pub"
}
