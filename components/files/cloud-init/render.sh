#!/usr/bin/env bash
# Prints the cloud-init user-data: user-data.yaml with each '# @include FILE' line replaced by that file
# of this folder, indented like the marker. The only renderer: the Pulumi program and the sandbox call it.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
re='^([[:space:]]*)# @include ([a-z0-9.-]+)$'
while IFS= read -r line || [ -n "$line" ]; do
  if [[ "$line" =~ $re ]]; then
    indent="${BASH_REMATCH[1]}"
    while IFS= read -r included || [ -n "$included" ]; do
      if [ -n "$included" ]; then printf '%s%s\n' "$indent" "$included"; else printf '\n'; fi
    done <"$dir/${BASH_REMATCH[2]}"
  else
    printf '%s\n' "$line"
  fi
done <"$dir/user-data.yaml"
