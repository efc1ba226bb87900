# shellcheck shell=bash
# A throwaway stack of a test's own Pulumi project (tests/real/swarm-drift, tests/real/migrate-swarm-provider,
# tests/nightly/swarm-lifecycle), whose stack file lives in the test's work directory, never in the tree: the
# project directory is tracked, and a test must not write into it (scripts/test.sh checks the tree).
#   lab_stack_init DIR STACK WORK       creates STACK in the current backend; its Pulumi.STACK.yaml in WORK
#   lab_pulumi DIR STACK WORK ARGS...   pulumi in DIR on STACK with that stack file
lab_stack_init() {
  local dir="$1" stack="$2" work="$3"
  rm -f "$dir/Pulumi.$stack.yaml"
  (cd "$dir" && pulumi --non-interactive stack init "$stack" >/dev/null) || return 1
  # `stack init` has no --config-file: it writes the stack file (the passphrase's salt) beside the project.
  # It moves to WORK at once; every later command names it with --config-file.
  if [ -f "$dir/Pulumi.$stack.yaml" ]; then mv "$dir/Pulumi.$stack.yaml" "$work/Pulumi.$stack.yaml"; else : >"$work/Pulumi.$stack.yaml"; fi
}
lab_pulumi() {
  local dir="$1" stack="$2" work="$3"
  shift 3
  # Only the commands that read or write the stack's configuration take --config-file.
  case "${1:-}" in config | up | preview | refresh | destroy) set -- "$@" --config-file "$work/Pulumi.$stack.yaml" ;; esac
  (cd "$dir" && pulumi --non-interactive --stack "$stack" "$@")
}
