#!/usr/bin/env bash
# The sandbox's S3 server, so the `local` stack backs up like staging and production do: versitygw
# (POSIX backend) in a container on the sandbox network at .3, a bucket for the local stack, credentials in sandbox/.state/s3.env.
# Idempotent. sandbox/down.sh removes it with everything else labelled mbio-sandbox.
#   sandbox/s3.sh endpoint   print the endpoint URL (no side effects)
#   sandbox/s3.sh up         build/start the server and create the bucket; prints the endpoint
set -euo pipefail
# shellcheck source=sandbox/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

S3_NAME="${MACHINE_PREFIX}s3"
S3_BUCKET="mbio-cloud-local-backups"
S3_ENV="$STATE_DIR/s3.env"
s3_ip() { int2ip $(($(subnet_base) + 3)); }
endpoint() { echo "http://$(s3_ip):9000"; }

up() {
  require_docker
  docker network inspect "$NETWORK" >/dev/null 2>&1 || die "the sandbox network $NETWORK does not exist; run sandbox/up.sh first"
  mkdir -p "$STATE_DIR"
  if [ ! -f "$S3_ENV" ]; then
    umask 077
    printf 'S3_ACCESS_KEY_ID=%s\nS3_SECRET_ACCESS_KEY=%s\n' "mbio-local-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')" "$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')" >"$S3_ENV"
  fi
  # shellcheck source=/dev/null
  . "$S3_ENV"
  local bin version image
  bin="$(bash "$MBIO_ROOT/scripts/versitygw.sh" build)"
  version="$(basename "$(dirname "$bin")")"
  image="mbio-sandbox/versitygw:${version//[^A-Za-z0-9_.-]/-}"
  if ! image_exists "$image"; then
    log "building $image"
    local ctx
    ctx="$(mktemp -d)"
    cp "$MBIO_ROOT/sandbox/s3/Dockerfile" "$bin" "$(dirname "$bin")/LICENSE" "$ctx/"
    DOCKER_BUILDKIT=0 docker build -q --label "$LABEL" --label mbio-sandbox.image=s3 --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$image" "$ctx" >"$ctx/build.log" 2>&1 ||
      { cat "$ctx/build.log" >&2; die "building $image failed"; }
    rm -rf "$ctx"
  fi
  if container_exists "$S3_NAME" && [ "$(docker container inspect -f '{{.Config.Image}}' "$S3_NAME")" != "$image" ]; then
    docker rm -f "$S3_NAME" >/dev/null
  fi
  if ! container_exists "$S3_NAME"; then
    # The keys reach the container through this process's environment, not docker's command line.
    # The data volume is versitygw's own: a directory tree per bucket, not readable by any other server.
    ROOT_ACCESS_KEY_ID="$S3_ACCESS_KEY_ID" ROOT_SECRET_ACCESS_KEY="$S3_SECRET_ACCESS_KEY" \
      docker run -d --name "$S3_NAME" --hostname "$S3_NAME" --label "$LABEL" --label "$OWNER_LABEL=$STATE_DIR" --network "$NETWORK" --ip "$(s3_ip)" \
      -e ROOT_ACCESS_KEY_ID -e ROOT_SECRET_ACCESS_KEY \
      --mount "type=volume,source=${S3_NAME}-posix,target=/data,volume-label=$LABEL" "$image" >/dev/null
  fi
  container_running "$S3_NAME" || docker start "$S3_NAME" >/dev/null
  local i
  for i in $(seq 1 60); do
    curl -fsS "$(endpoint)/health" >/dev/null 2>&1 && break
    [ "$i" = 60 ] && die "the sandbox S3 server did not become ready; see 'docker logs $S3_NAME'"
    sleep 1
  done
  # Creating a bucket its owner already has answers 409 BucketAlreadyOwnedByYou: that is success here.
  local body code
  body="$(mktemp)"
  # versitygw, like AWS, requires x-amz-content-sha256, which curl 7.88's --aws-sigv4 does not send itself.
  # The keys reach curl as a config on a file descriptor, never on its command line.
  code="$(curl -sS -o "$body" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" -K <(printf 'user = "%s:%s"\n' "$S3_ACCESS_KEY_ID" "$S3_SECRET_ACCESS_KEY") \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT "$(endpoint)/$S3_BUCKET")" || code=000
  if [ "$code" != 200 ] && ! grep -q BucketAlreadyOwnedByYou "$body"; then
    cat "$body" >&2
    rm -f "$body"
    die "could not create bucket $S3_BUCKET on $(endpoint) (HTTP $code)"
  fi
  rm -f "$body"
  endpoint
}

case "${1:-}" in
  endpoint) endpoint ;;
  up) up ;;
  *) die "usage: sandbox/s3.sh endpoint|up" ;;
esac
