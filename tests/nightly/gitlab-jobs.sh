#!/usr/bin/env bash
# The infrastructure pipeline's lint and unit jobs run for real under gitlab-ci-local, in the throwaway
# repository of tests/real/gitlab-pipelines.sh (with all of that test's checks). Nightly: the default run
# already runs the same commands as steps of its own (scripts/test.sh).
set -uo pipefail
GITLAB_PIPELINES_JOBS="lint unit" exec bash "$(dirname "${BASH_SOURCE[0]}")/../real/gitlab-pipelines.sh"
