#!/usr/bin/env bash
# Runs in a copy of github.com/traefik/traefik/v3@v3.7.13 before the offline build (images/lib/go-binary.sh).
# The Go module proxy reachable here refuses some modules Traefik needs; this replaces exactly those:
#  - github.com/traefik/traefik/dynamic/ext: a nested module (left out of the module zip by Go's rules);
#    upstream it holds empty extension structs (HTTP, Router, RouterIng); recreated as such.
#  - github.com/containous/go-http-auth (Traefik's fork of abbot/go-http-auth): refused; a copy of the
#    original abbot/go-http-auth v0.4.0 plus the two functions the fork adds and Traefik calls
#    (CheckSecret: compare a password with an htpasswd hash; DigestAuth.RequireAuthStale: the challenge
#    with stale=true), written here from their use in Traefik.
#  - DNS providers of lego whose SDKs are refused: removed from lego's provider table (a copy of lego).
#    Cloudflare, the one the platform uses, stays. Production runs the upstream image, which has them all.
set -euo pipefail

mkdir -p pkg/config/dynamic/ext
cat >pkg/config/dynamic/ext/go.mod <<'MOD'
module github.com/traefik/traefik/dynamic/ext

go 1.24
MOD
cat >pkg/config/dynamic/ext/ext.go <<'GO'
// Package ext holds the (empty) extension points of Traefik's dynamic configuration.
package ext

// HTTP is a dynamic.HTTP extension.
type HTTP struct{}

// Router is a dynamic.Router extension.
type Router struct{}

// RouterIng is a RouterIng extension for ingress provider annotations.
type RouterIng struct{}

// ToRouter converts RouterIng to a Router.
func (r RouterIng) ToRouter() Router { return Router{} }
GO

auth_src="$(go mod download -json github.com/abbot/go-http-auth@v0.4.0 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
mkdir -p third_party
cp -r "$auth_src" third_party/go-http-auth
chmod -R u+w third_party/go-http-auth
[ -f third_party/go-http-auth/go.mod ] || printf 'module github.com/abbot/go-http-auth\n\ngo 1.18\n\nrequire (\n\tgolang.org/x/crypto v0.56.0\n\tgolang.org/x/net v0.58.0\n)\n' >third_party/go-http-auth/go.mod
cat >third_party/go-http-auth/mbio_fork.go <<'GO'
package auth

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// CheckSecret reports whether password matches secret, an htpasswd entry (plain, {SHA}, $apr1$, bcrypt).
func CheckSecret(password, secret string) bool {
	compare := compareFuncs[0].compare
	for _, cmp := range compareFuncs[1:] {
		if strings.HasPrefix(secret, cmp.prefix) {
			compare = cmp.compare
			break
		}
	}
	return compare([]byte(secret), []byte(password)) == nil
}

// RequireAuthStale answers with a new digest challenge that marks the client's nonce as stale.
func (a *DigestAuth) RequireAuthStale(w http.ResponseWriter, r *http.Request) {
	if len(a.clients) > a.ClientCacheSize+a.ClientCacheTolerance {
		a.Purge(a.ClientCacheTolerance * 2)
	}
	nonce := RandomKey()
	a.clients[nonce] = &digest_client{nc: 0, last_seen: time.Now().UnixNano()}
	w.Header().Set(contentType, a.Headers.V().UnauthContentType)
	w.Header().Set(a.Headers.V().Authenticate,
		fmt.Sprintf(`Digest realm="%s", nonce="%s", opaque="%s", algorithm="MD5", qop="auth", stale=true`,
			a.Realm, nonce, a.Opaque))
	w.WriteHeader(a.Headers.V().UnauthCode)
	_, _ = w.Write([]byte(a.Headers.V().UnauthResponse))
}
GO
go mod edit -replace "github.com/abbot/go-http-auth=./third_party/go-http-auth"

lego_version="$(go list -m -f '{{.Version}}' github.com/go-acme/lego/v5)"
lego_src="$(go mod download -json "github.com/go-acme/lego/v5@$lego_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
cp -r "$lego_src" third_party/lego
chmod -R u+w third_party/lego
REFUSED="alidns aliesa azion dnsimple edgedns edgeone huaweicloud oraclecloud regfish sakuracloud tencentcloud ucloud yandexcloud"
table=third_party/lego/providers/dns/zz_gen_dns_providers.go
for p in $REFUSED; do
  rm -rf "third_party/lego/providers/dns/$p"
  # The import line and the `case "name"[, "alias"]:` + return line of the provider.
  sed -i -e "\#\"github.com/go-acme/lego/v5/providers/dns/$p\"#d" \
    -e "/^\tcase \"$p\"\(, \"[a-z0-9-]*\"\)*:\$/{N;d}" "$table"
  ! grep -q "\b$p\." "$table" || { echo "offline-patch: could not remove lego provider $p from $table" >&2; exit 1; }
done
go mod edit -replace "github.com/go-acme/lego/v5=./third_party/lego"
