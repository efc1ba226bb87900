#!/usr/bin/env bash
# One set-up command for operators: Node.js 24, node_modules from the lockfile, and the pinned Pulumi CLI
# with every plugin the real stacks need (command, hcloud, cloudflare): the official installer with internet
# access, the upstream sources of ../shared/upstream built with the Go module proxy without (the first
# offline build of the cloudflare plugin takes ~45 min on 2 cores; later runs take seconds).
set -euo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/pulumi-env.sh"
ensure_node_modules
bash "$MBIO_ROOT/scripts/toolchain.sh" --with-cloudflare --with-docker
ensure_pulumi
log "ready: node $(node --version), $(pulumi version), plugins: $(pulumi plugin ls 2>/dev/null | awk 'NR > 1 && $2 == "resource" {printf "%s %s  ", $1, $3}'), state in ${PULUMI_BACKEND_URL}"
echo "next: source scripts/lib/pulumi-env.sh && pulumi preview --stack development"
