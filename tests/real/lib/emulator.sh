# shellcheck shell=bash
# The Hetzner Cloud API emulator (tests/hcloud-emulator/) as the real tests run it: its token, start, stop and
# restart on the same port and state file. Shared by tests/real/hcloud-emulator.sh (API only) and
# tests/real/lib/hetzner-sim.sh (with real machines: extra run.sh flags).
#   emulator_token DIR                 a 64-character token in DIR/token and curl's header file DIR/auth (0600:
#                                      the token is never on a command line)
#   emulator_start DIR [PORT [FLAGS…]] starts it on loopback (a free port unless PORT), state in DIR/hcloud.json,
#                                      log in DIR/emulator.log; sets EMULATOR_URL (…/v1) and EMULATOR_PID
#   emulator_stop                      stops it (nothing when it is not running; also one an earlier shell started)
#   emulator_restart DIR [FLAGS…]      stop, then start again on the same port and state file

EMULATOR_PID=
EMULATOR_URL=

emulator_token() {
  (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$1/token" && printf 'Authorization: Bearer %s\n' "$(cat "$1/token")" >"$1/auth")
}

emulator_start() {
  local dir="$1" port="${2:-0}"
  shift $(($# < 2 ? $# : 2))
  : >"$dir/emulator.log"
  # Built first, outside the wait for it to listen: on an empty machine the first build takes minutes.
  "$MBIO_ROOT/tests/hcloud-emulator/run.sh" --build >>"$dir/emulator.log" 2>&1 || { tail -20 "$dir/emulator.log"; return 1; }
  "$MBIO_ROOT/tests/hcloud-emulator/run.sh" -listen "127.0.0.1:$port" -state "$dir/hcloud.json" -token-file "$dir/token" \
    -action-delay 200ms "$@" >>"$dir/emulator.log" 2>&1 &
  EMULATOR_PID=$!
  WAIT_EVERY=1 wait_for "the emulator to listen" 60 grep -q '^hcloud-emulator listening on' "$dir/emulator.log" || { tail -5 "$dir/emulator.log"; return 1; }
  EMULATOR_URL="$(sed -n 's/^hcloud-emulator listening on \(http[^ ]*\) .*/\1/p' "$dir/emulator.log")"
}

emulator_stop() {
  [ -n "$EMULATOR_PID" ] || return 0
  kill "$EMULATOR_PID" 2>/dev/null || true
  # A child is waited for; one an earlier shell started (scripts/local.sh --hetzner down) is not this shell's to
  # wait for (wait fails at once): polled until it is gone, at most 10 s.
  wait "$EMULATOR_PID" 2>/dev/null || for _ in $(seq 1 50); do kill -0 "$EMULATOR_PID" 2>/dev/null || break; sleep 0.2; done
  EMULATOR_PID=
}

emulator_restart() {
  local dir="$1" port="${EMULATOR_URL#http://127.0.0.1:}"
  shift
  port="${port%/v1}"
  cat "$dir/emulator.log" >>"$dir/emulator-before-restart.log"
  emulator_stop
  emulator_start "$dir" "$port" "$@"
}
