#!/usr/bin/env bash
# Forms the Storidge cluster. create (first node): `cioctl create` unless a cluster exists, then prints
# the join token. join (other nodes): joins unless already a member. init (first node, after the joins):
# initialises the cluster unless it runs.
# Env: ACTION (create|join|init), IP (this node's private address), FIRST_IP, TOKEN (join only)
set -euo pipefail
: "${ACTION:?}"
case "$ACTION" in
  create)
    : "${IP:?}"
    if cioctl node ls >/dev/null 2>&1 || [ -s /etc/storidge/cluster-token ]; then
      echo "Storidge cluster already created" >&2
    else
      cioctl create --ip "$IP" >&2
    fi
    cioctl join-token | awk '/cioctl join/ { print $NF; exit }'
    ;;
  join)
    : "${IP:?}" "${FIRST_IP:?}" "${TOKEN:?}"
    if cio info 2>/dev/null | grep -q "$IP"; then echo "already a Storidge node" >&2; exit 0; fi
    cioctl join "$FIRST_IP" "$TOKEN" --ip "$IP" >&2
    ;;
  init)
    : "${TOKEN:?}"
    if cio info 2>/dev/null | grep -qi "condition: *normal"; then echo "Storidge cluster running" >&2; exit 0; fi
    cioctl init "$TOKEN" >&2
    ;;
  *) echo "error: ACTION is $ACTION; must be create, join or init" >&2; exit 2 ;;
esac
