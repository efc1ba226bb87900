#!/usr/bin/env bash
# The node hardening audit with lynis: tests/real/security-audit.sh with SECURITY_LYNIS=1 (hardening index >=
# LYNIS_MIN on a machine that harden.sh and firewall.sh prepared). lynis is a shell script that starts thousands
# of processes for its ~250 tests: 159 s alone and 440 s inside the default run on 2 cores (2026-12-05,
# docs/benchmarks.md), the default run's heaviest single check, so it runs nightly; the default run keeps the
# rest of the audit (harden.sh and firewall.sh twice, ssh-audit, fail2ban, unattended upgrades, the firewall).
set -euo pipefail
SECURITY_LYNIS=1 exec bash "$(dirname "${BASH_SOURCE[0]}")/../real/security-audit.sh"
