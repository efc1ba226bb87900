// hcloud-emulator: a stateful emulator of the Hetzner Cloud API v1 for tests (see docs/sandbox.md).
//
//	HCLOUD_TOKEN=<64 characters> go run ./tests/hcloud-emulator -listen 127.0.0.1:8480 -state /tmp/hcloud.json
//
// The token comes from $HCLOUD_TOKEN or -token-file (never argv); without either, a random one is written
// to <state>.token (0600). The API is served under /v1 (hcloud:endpoint = http://<listen>/v1).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func newEmulator(store *Store, token string, actionDelay time.Duration, publicIPv4 netip.Prefix, rateLimit int) *Emulator {
	e := &Emulator{
		store: store, token: token, actionDelay: actionDelay, publicIPv4: ipv4Range{publicIPv4}, now: time.Now,
		rateLimit: rateLimit, rateRemaining: float64(rateLimit), rateUpdated: time.Now(), mux: http.NewServeMux(),
	}
	e.registerCatalogue()
	e.registerActions()
	e.registerSSHKeys()
	e.registerNetworks()
	e.registerFirewalls()
	e.registerPlacementGroups()
	e.registerServers()
	e.registerVolumes()
	e.handle("/", func(r *request) (int, any, *apiError) {
		return 0, nil, errCode(http.StatusNotFound, "not_found", "%s %s is not served by the emulator", r.Method, r.URL.Path)
	})
	return e
}

func readToken(tokenFile, statePath string) (string, error) {
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	if t := os.Getenv("HCLOUD_TOKEN"); t != "" {
		return t, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	t := hex.EncodeToString(b) // 64 characters, the length the hcloud provider insists on
	path := statePath + ".token"
	if err := os.WriteFile(path, []byte(t+"\n"), 0o600); err != nil {
		return "", err
	}
	log.Printf("no HCLOUD_TOKEN or -token-file: wrote a random token to %s", path)
	return t, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8480", "address to listen on (loopback by default)")
	statePath := flag.String("state", "hcloud-emulator.json", "JSON file holding the state (created if missing, kept across restarts)")
	tokenFile := flag.String("token-file", "", "file holding the API token (default: $HCLOUD_TOKEN, else a random token in <state>.token)")
	actionDelay := flag.Duration("action-delay", 300*time.Millisecond, "how long an action stays running before it succeeds")
	publicIPv4 := flag.String("public-ipv4", "203.0.113.0/24", "range the servers' public IPv4 addresses come from")
	machineHook := flag.String("machine-hook", "", "machine.sh: make each server a real machine (docs/sandbox.md); empty: servers are records only")
	volumeDir := flag.String("volume-dir", "", "directory of the volumes' files (default: <state>.volumes); machine.sh loops them into the machines")
	rateLimit := flag.Int("rate-limit", 3600, "requests per hour (Hetzner's default is 3600, refilled one per second)")
	flag.Parse()

	prefix, err := netip.ParsePrefix(*publicIPv4)
	if err != nil || !prefix.Addr().Is4() {
		log.Fatalf("-public-ipv4 %q is not an IPv4 range in CIDR notation", *publicIPv4)
	}
	token, err := readToken(*tokenFile, *statePath)
	if err != nil {
		log.Fatalf("token: %v", err)
	}
	store, err := openStore(*statePath)
	if err != nil {
		log.Fatalf("state: %v", err)
	}
	e := newEmulator(store, token, *actionDelay, prefix.Masked(), *rateLimit)
	e.volumeDir = *volumeDir
	if e.volumeDir == "" {
		e.volumeDir = *statePath + ".volumes"
	}
	e.machines = newMachines(*machineHook)
	if e.machines != nil {
		e.machines.volumeFile = e.volumeFile
	}
	// At start (a restart too): every server's machine is applied again (idempotent), restarted if it was stopped.
	store.mu.Lock()
	e.machines.sync(store.state)
	store.mu.Unlock()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: e.mux, ReadHeaderTimeout: 10 * time.Second}
	// The line a wrapper waits for: the address actually bound (port 0 picks a free one).
	fmt.Printf("hcloud-emulator listening on http://%s/v1 (state %s)\n", ln.Addr(), *statePath)
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
