#!/usr/bin/env bash
# shellcheck disable=SC2015 # ok and fail always succeed: A && B || C is if-then-else here
# The service template (templates/python-service) on the local Docker engine:
#   - it builds from the sandbox's Debian base (sandbox/up.sh's ensure_base_image) with DEPS_FROM=debian
#     (no PyPI here; DEPS_FROM=pip is the online default, docs/ci.md);
#   - the container runs as a non-root user, runs its migrations on start, and becomes healthy;
#   - a rebuild after a code-only change reuses the base and dependency layers (both times printed;
#     docs/benchmarks.md records them).
set -uo pipefail
# shellcheck disable=SC2015 # ok and fail always succeed: A && ok || fail is if-then-else here
# shellcheck source=scripts/lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/env.sh"
cd "$MBIO_ROOT" || exit 1

TEST_NAME=service-template
# shellcheck source=tests/real/lib/check.sh
. "$MBIO_ROOT/tests/real/lib/check.sh"

ensure_docker
# shellcheck source=sandbox/up.sh
. sandbox/up.sh
set +e
mkdir -p "$LOG_DIR"
ensure_base_image

work="$(mktemp -d)"
name="mbio-gitlab-template-test"
cleanup() {
  docker rm -f "$name" >/dev/null 2>&1
  docker rmi -f "$name:1" "$name:2" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
cp -r templates/python-service/. "$work/"

build() { # tag [docker build options] → prints seconds
  local tag=$1 start
  shift
  start=$(date +%s.%N)
  DOCKER_BUILDKIT=0 docker build "$@" --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg DEPS_FROM=debian -t "$name:$tag" "$work" >"$work/build-$tag.log" 2>&1 || return 1
  awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

# The first build is cold (--no-cache): the figure docs/benchmarks.md records.
if t1="$(build 1 --no-cache)"; then ok "template builds from scratch in ${t1}s (dependencies from Debian packages)"; else tail -n 20 "$work/build-1.log"; fail "template build failed"; fi

docker run -d --name "$name" "$name:1" >/dev/null
health=""
for _ in $(seq 1 30); do
  health="$(docker inspect -f '{{.State.Health.Status}}' "$name" 2>/dev/null)"
  [ "$health" = healthy ] && break
  sleep 1
done
[ "$health" = healthy ] && ok "container healthy (HEALTHCHECK on /healthz)" || { docker logs "$name" 2>&1 | tail -n 10; fail "container not healthy: $health"; }
[ "$(docker exec "$name" id -u)" = 10001 ] && ok "runs as the unprivileged user app (uid 10001)" || fail "container runs as uid $(docker exec "$name" id -u)"
# The whole log first: `docker logs | grep -q` under pipefail fails when grep quits early (SIGPIPE to docker).
grep -q "migrations: schema at version 1" <<<"$(docker logs "$name" 2>&1)" && ok "entrypoint ran the migrations before gunicorn" || fail "no migration output in the container log"
docker exec "$name" python3 -c 'import urllib.request as u, json; r = u.urlopen(u.Request("http://127.0.0.1:8000/greetings", data=b"{\"name\": \"MBIO\"}", headers={"Content-Type": "application/json"})); print(json.load(r)["message"])' 2>&1 | grep -q "Hello, MBIO!" &&
  ok "POST /greetings writes to the migrated database" || fail "POST /greetings failed"
docker restart "$name" >/dev/null
sleep 3
[ "$(docker logs "$name" 2>&1 | grep -c "migrations: schema at version 1")" -ge 2 ] && ok "migrations run again on restart without error (idempotent)" || fail "migrations on restart"

# A code-only change: only the runtime layers rebuild.
echo "# $(date +%s)" >>"$work/app/main.py"
if t2="$(build 2)"; then
  cached="$(grep -c 'Using cache' "$work/build-2.log")"
  # shellcheck disable=SC2016 # the Dockerfile's text, not an expansion
  if grep -A2 'apt-get install -y -q --no-install-recommends $(grep' "$work/build-2.log" | grep -q 'Using cache'; then
    ok "code-only rebuild reused the dependency layers (${t2}s vs ${t1}s; $cached cached steps)"
  else
    fail "code-only rebuild reinstalled the dependencies (${t2}s)"
  fi
  echo "      build times: cold ${t1}s, after a code-only change ${t2}s"
else
  tail -n 20 "$work/build-2.log"
  fail "rebuild failed"
fi

report
