# shellcheck shell=bash
# One machine of a real test's own, from the sandbox's machine image (not the sandbox singleton: no lock
# needed), reachable as root over SSH with a key of the test's own.
#   lab_machine NAME WORK [docker-run-args...]
# starts NAME (replacing a leftover of an earlier run), writes WORK/key(.pub), waits for sshd and dockerd and
# sets LAB_IP. Needs Docker and the image (sandbox/up.sh builds it once; LAB_MACHINE_IMAGE names another
# build of sandbox/machine, e.g. a helper's own before the sandbox images exist).
lab_machine() {
  local name="$1" work="$2" image="${LAB_MACHINE_IMAGE:-}"
  shift 2
  [ -n "$image" ] || image="$(docker images --format '{{.Repository}}:{{.Tag}}' 'mbio-sandbox/machine' | head -1)"
  [ -n "$image" ] || { echo "no sandbox machine image: run sandbox/up.sh once"; return 1; }
  docker rm -f "$name" >/dev/null 2>&1
  docker run -d --name "$name" --hostname "$name" --cap-add=ALL --cap-drop=SYS_RESOURCE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock "$@" "$image" >/dev/null || return 1
  # shellcheck disable=SC2034 # read by the test that sources this file
  LAB_IP="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name")"
  ssh-keygen -q -t ed25519 -N '' -f "$work/key" <<<y >/dev/null
  local _
  for _ in $(seq 1 60); do docker exec "$name" systemctl is-active --quiet docker ssh 2>/dev/null && break; sleep 2; done
  docker exec -i "$name" sh -c "install -d -m 700 /root/.ssh && cat >/root/.ssh/authorized_keys" <"$work/key.pub"
}
