package main

// The machine hook (machines.go) with a stand-in of machine.sh that records what it is told: each change of a
// server reaches it once, with the user-data on stdin (never argv), and nothing is sent twice.

import (
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

func TestMachineHook(t *testing.T) {
	dir := t.TempDir()
	record := filepath.Join(dir, "calls")
	hook := filepath.Join(dir, "machine.sh")
	script := "#!/bin/sh\n{ echo \"ARGS $*\"; cat; echo; } >>" + record + "\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	store, err := openStore(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEmulator(store, testToken, 10*time.Millisecond, netip.MustParsePrefix("203.0.113.0/24"), 3600)
	e.machines = newMachines(hook)
	srv := httptest.NewServer(e.mux)
	defer srv.Close()
	c := hcloud.NewClient(hcloud.WithEndpoint(srv.URL+"/v1"), hcloud.WithToken(testToken))

	key, _, err := c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "k", PublicKey: pubKeyA})
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "m1", ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "debian-12"},
		SSHKeys: []*hcloud.SSHKey{key}, UserData: "#cloud-config\nsecret-marker\n"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Server.Update(ctx, res.Server, hcloud.ServerUpdateOpts{Name: "m1"}); err != nil { // no change
		t.Fatal(err)
	}
	if _, _, err := c.Server.Poweroff(ctx, res.Server); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Server.DeleteWithResult(ctx, res.Server); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	calls := string(b)
	var args []string
	for _, l := range strings.Split(calls, "\n") {
		if strings.HasPrefix(l, "ARGS ") {
			args = append(args, strings.TrimPrefix(l, "ARGS "))
		}
	}
	if strings.Join(args, "|") != "apply|apply|remove 1" {
		t.Fatalf("hook calls %q, want apply (create), apply (power off), remove 1", args)
	}
	for _, want := range []string{`"status":"running"`, `"status":"off"`, "secret-marker", pubKeyA, `"public_ipv4":"203.0.113.2"`} {
		if !strings.Contains(calls, want) {
			t.Fatalf("the hook's stdin lacks %s:\n%s", want, calls)
		}
	}
}
