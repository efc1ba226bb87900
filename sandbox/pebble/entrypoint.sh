#!/bin/sh
# Pebble with its DNS answered by pebble-challtestsrv (A records: PEBBLE_TARGET_IP for every name).
# The listener certificate and key are mounted at /certs (issued by the sandbox CA).
set -eu
: "${PEBBLE_TARGET_IP:?PEBBLE_TARGET_IP must be the address validation connects to}"
cat >/tmp/pebble.json <<JSON
{"pebble": {"listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
  "certificate": "/certs/cert.pem", "privateKey": "/certs/key.pem",
  "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false,
  "domainBlocklist": [], "retryAfter": {"authz": 3, "order": 5}, "keyAlgorithm": "ecdsa"}}
JSON
pebble-challtestsrv -defaultIPv4 "$PEBBLE_TARGET_IP" -defaultIPv6 "" -dnsserver 127.0.0.1:8053 \
  -http01 "" -https01 "" -tlsalpn01 "" -doh "" -management 127.0.0.1:8055 &
exec pebble -config /tmp/pebble.json -dnsserver 127.0.0.1:8053
