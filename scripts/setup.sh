#!/usr/bin/env bash
# One set-up command: Node.js 24, node_modules from the lockfile, and the pinned Pulumi CLI with its
# plugins (official installer with internet access, built from the Go module proxy without).
set -euo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/pulumi-env.sh"
ensure_node_modules
ensure_pulumi
log "ready: node $(node --version), $(pulumi version), state in ${PULUMI_BACKEND_URL}"
echo "next: source scripts/lib/pulumi-env.sh && pulumi preview --stack development"
