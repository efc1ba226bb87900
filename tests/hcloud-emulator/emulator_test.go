package main

// Every rule the emulator enforces, sent as a bad request through hcloud-go's own client (the client the
// hcloud provider is built on, same version), which also proves the JSON decodes into Hetzner's types.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

const testToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// Two distinct, valid ed25519 public keys.
const (
	pubKeyA = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@test"
	pubKeyB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbV+PlDsG+bXLZ0cBBDQcF+9oaIYxOjfMyoHxJnB2Gx b@test"
)

type fixture struct {
	t      *testing.T
	c      *hcloud.Client
	url    string
	state  string
	server *httptest.Server
	e      *Emulator
}

func start(t *testing.T, rateLimit int) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.json")
	return startAt(t, path, rateLimit)
}

func startAt(t *testing.T, path string, rateLimit int) *fixture {
	t.Helper()
	store, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	e := newEmulator(store, testToken, 50*time.Millisecond, netip.MustParsePrefix("203.0.113.0/24"), rateLimit)
	e.volumeDir = path + ".volumes" // as main's default: every test's volumes are real files
	srv := httptest.NewServer(e.mux)
	t.Cleanup(srv.Close)
	c := hcloud.NewClient(hcloud.WithEndpoint(srv.URL+"/v1"), hcloud.WithToken(testToken),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(20 * time.Millisecond)}),
		hcloud.WithRetryOpts(hcloud.RetryOpts{MaxRetries: 0, BackoffFunc: hcloud.ConstantBackoff(0)}))
	return &fixture{t: t, c: c, url: srv.URL + "/v1", state: path, server: srv, e: e}
}

var ctx = context.Background()

// wantCode fails unless err is a Hetzner API error with this code.
func wantCode(t *testing.T, err error, code hcloud.ErrorCode) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %s, got success", code)
	}
	if !hcloud.IsError(err, code) {
		t.Fatalf("want error %s, got %v", code, err)
	}
}

func must[T any](t *testing.T) func(T, *hcloud.Response, error) T {
	return func(v T, _ *hcloud.Response, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func (f *fixture) network(name, ipRange, subnet string) *hcloud.Network {
	n := must[*hcloud.Network](f.t)(f.c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: name, IPRange: mustCIDR(ipRange)}))
	if subnet != "" {
		a := must[*hcloud.Action](f.t)(f.c.Network.AddSubnet(ctx, n, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{Type: "cloud", NetworkZone: "eu-central", IPRange: mustCIDR(subnet)}}))
		if err := f.c.Action.WaitFor(ctx, a); err != nil {
			f.t.Fatal(err)
		}
	}
	return n
}

func (f *fixture) serverOpts(name string) hcloud.ServerCreateOpts {
	return hcloud.ServerCreateOpts{Name: name, ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "debian-12"},
		Location: &hcloud.Location{Name: "fsn1"}}
}

func (f *fixture) createServer(opts hcloud.ServerCreateOpts) *hcloud.Server {
	f.t.Helper()
	res := must[hcloud.ServerCreateResult](f.t)(f.c.Server.Create(ctx, opts))
	if err := f.c.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...); err != nil {
		f.t.Fatal(err)
	}
	return res.Server
}

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

func TestSSHKeyNameAndFingerprintUnique(t *testing.T) {
	f := start(t, 3600)
	must[*hcloud.SSHKey](t)(f.c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "a", PublicKey: pubKeyA}))
	_, _, err := f.c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "a", PublicKey: pubKeyB})
	wantCode(t, err, hcloud.ErrorCodeUniquenessError)
	// Same key under another name: Hetzner refuses the fingerprint, with this message.
	_, _, err = f.c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "other", PublicKey: pubKeyA})
	wantCode(t, err, hcloud.ErrorCodeUniquenessError)
	if !strings.Contains(err.Error(), "SSH key with the same fingerprint already exists") {
		t.Fatalf("message: %v", err)
	}
	_, _, err = f.c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "bad", PublicKey: "ssh-ed25519 notakey"})
	wantCode(t, err, hcloud.ErrorCodeInvalidInput)
	k := must[*hcloud.SSHKey](t)(f.c.SSHKey.GetByFingerprint(ctx, must[*hcloud.SSHKey](t)(f.c.SSHKey.GetByName(ctx, "a")).Fingerprint))
	if k == nil || k.Name != "a" {
		t.Fatalf("lookup by fingerprint: %+v", k)
	}
}

func TestLabelSyntax(t *testing.T) {
	f := start(t, 3600)
	for _, labels := range []map[string]string{
		{"-starts-with-dash": "x"},
		{"has space": "x"},
		{strings.Repeat("k", 64): "x"},
		{"hetzner.cloud/reserved": "x"},
		{"Bad_Prefix/name": "x"},
		{"ok": "bad value!"},
		{"ok": strings.Repeat("v", 64)},
	} {
		_, _, err := f.c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "k", PublicKey: pubKeyA, Labels: labels})
		wantCode(t, err, hcloud.ErrorCodeInvalidInput)
	}
	good := map[string]string{"example.com/role": "manager", "env": "", "a.b_c-d": "V1.2_3"}
	k := must[*hcloud.SSHKey](t)(f.c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "k", PublicKey: pubKeyA, Labels: good}))
	_, _, err := f.c.SSHKey.Update(ctx, k, hcloud.SSHKeyUpdateOpts{Labels: map[string]string{"bad key": "x"}})
	wantCode(t, err, hcloud.ErrorCodeInvalidInput)
	_, err = f.c.SSHKey.AllWithOpts(ctx, hcloud.SSHKeyListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "bad key==x"}})
	wantCode(t, err, hcloud.ErrorCodeInvalidInput)
}

func TestServerNameRules(t *testing.T) {
	f := start(t, 3600)
	for _, name := range []string{"-dash-first", "under_score", "dot..dot", strings.Repeat("a", 64), "trailing-"} {
		_, _, err := f.c.Server.Create(ctx, f.serverOpts(name))
		wantCode(t, err, hcloud.ErrorCodeInvalidInput)
	}
	f.createServer(f.serverOpts("node-1.example"))
	_, _, err := f.c.Server.Create(ctx, f.serverOpts("node-1.example"))
	wantCode(t, err, hcloud.ErrorCodeUniquenessError)
	bad := f.serverOpts("x")
	bad.ServerType = &hcloud.ServerType{Name: "cx999"}
	_, _, err = f.c.Server.Create(ctx, bad)
	wantCode(t, err, hcloud.ErrorCodeInvalidInput)
}

func TestNetworkAndSubnetRanges(t *testing.T) {
	f := start(t, 3600)
	_, _, err := f.c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "public", IPRange: mustCIDR("8.8.0.0/16")})
	wantCode(t, err, hcloud.ErrorCodeInvalidInput)
	_, _, err = f.c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "tiny", IPRange: mustCIDR("10.0.0.0/28")})
	wantCode(t, err, hcloud.ErrorCodeInvalidInput)
	n := f.network("net", "10.0.0.0/16", "10.0.1.0/24")
	for _, sub := range []string{"10.1.0.0/24", "10.0.0.0/8", "10.0.1.128/25", "10.0.0.0/16"} {
		_, _, err := f.c.Network.AddSubnet(ctx, n, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{Type: "cloud", NetworkZone: "eu-central", IPRange: mustCIDR(sub)}})
		wantCode(t, err, hcloud.ErrorCodeInvalidInput)
	}
	_, _, err = f.c.Network.AddSubnet(ctx, n, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{Type: "cloud", NetworkZone: "mars", IPRange: mustCIDR("10.0.2.0/24")}})
	wantCode(t, err, hcloud.ErrorCodeInvalidInput)
	_, _, err = f.c.Network.AddRoute(ctx, n, hcloud.NetworkAddRouteOpts{Route: hcloud.NetworkRoute{Destination: mustCIDR("192.168.0.0/24"), Gateway: net.ParseIP("172.16.0.1")}})
	wantCode(t, err, hcloud.ErrorCodeInvalidInput)
	a := must[*hcloud.Action](t)(f.c.Network.AddRoute(ctx, n, hcloud.NetworkAddRouteOpts{Route: hcloud.NetworkRoute{Destination: mustCIDR("192.168.0.0/24"), Gateway: net.ParseIP("10.0.1.5")}}))
	if err := f.c.Action.WaitFor(ctx, a); err != nil {
		t.Fatal(err)
	}
	got := must[*hcloud.Network](t)(f.c.Network.GetByID(ctx, n.ID))
	if len(got.Subnets) != 1 || got.Subnets[0].Gateway.String() != "10.0.0.1" || len(got.Routes) != 1 {
		t.Fatalf("network: %+v", got)
	}
	_, _, err = f.c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "net", IPRange: mustCIDR("10.1.0.0/16")})
	wantCode(t, err, hcloud.ErrorCodeUniquenessError)
}

func TestSpreadPlacementGroupHoldsTen(t *testing.T) {
	f := start(t, 3600)
	pg := must[hcloud.PlacementGroupCreateResult](t)(f.c.PlacementGroup.Create(ctx, hcloud.PlacementGroupCreateOpts{Name: "pg", Type: hcloud.PlacementGroupTypeSpread})).PlacementGroup
	for i := 1; i <= 10; i++ {
		o := f.serverOpts(fmt.Sprintf("s%d", i))
		o.PlacementGroup = pg
		f.createServer(o)
	}
	o := f.serverOpts("s11")
	o.PlacementGroup = pg
	_, _, err := f.c.Server.Create(ctx, o)
	wantCode(t, err, "placement_group_member_limit_reached")
	if !strings.Contains(err.Error(), "contains already 10 servers") {
		t.Fatalf("message: %v", err)
	}
	got := must[*hcloud.PlacementGroup](t)(f.c.PlacementGroup.GetByID(ctx, pg.ID))
	if len(got.Servers) != 10 {
		t.Fatalf("servers: %v", got.Servers)
	}
	_, err = f.c.PlacementGroup.Delete(ctx, pg)
	wantCode(t, err, hcloud.ErrorCodeResourceInUse)
}

func TestFirewallRulesValidated(t *testing.T) {
	f := start(t, 3600)
	any4 := []net.IPNet{*mustCIDR("0.0.0.0/0")}
	port := func(p string) *string { return &p }
	for i, rule := range []hcloud.FirewallRule{
		{Direction: "in", Protocol: "tcp", SourceIPs: any4},                    // tcp without port
		{Direction: "in", Protocol: "icmp", Port: port("22"), SourceIPs: any4}, // icmp with port
		{Direction: "in", Protocol: "tcp", Port: port("22")},                   // in without source
		{Direction: "out", Protocol: "tcp", Port: port("22")},                  // out without destination
		{Direction: "sideways", Protocol: "tcp", Port: port("22"), SourceIPs: any4},
		{Direction: "in", Protocol: "sctp", Port: port("22"), SourceIPs: any4},
		{Direction: "in", Protocol: "tcp", Port: port("0"), SourceIPs: any4},
		{Direction: "in", Protocol: "tcp", Port: port("90-80"), SourceIPs: any4},
		{Direction: "in", Protocol: "tcp", Port: port("70000"), SourceIPs: any4},
	} {
		_, _, err := f.c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: fmt.Sprintf("fw%d", i), Rules: []hcloud.FirewallRule{rule}})
		wantCode(t, err, hcloud.ErrorCodeInvalidInput)
	}
	// A CIDR with host bits set, sent raw (hcloud-go would mask it).
	status, body := f.raw("POST", "/firewalls", `{"name":"raw","rules":[{"direction":"in","protocol":"tcp","port":"22","source_ips":["10.0.0.1/8"]}]}`)
	if status != 400 || !strings.Contains(body, `"invalid_input"`) {
		t.Fatalf("host bits: %d %s", status, body)
	}
	fw := must[hcloud.FirewallCreateResult](t)(f.c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "ok",
		Rules: []hcloud.FirewallRule{{Direction: "in", Protocol: "tcp", Port: port("80-85"), SourceIPs: any4}}})).Firewall
	_, _, err := f.c.Firewall.SetRules(ctx, fw, hcloud.FirewallSetRulesOpts{Rules: []hcloud.FirewallRule{{Direction: "in", Protocol: "udp", SourceIPs: any4}}})
	wantCode(t, err, hcloud.ErrorCodeInvalidInput)
	_, _, err = f.c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "ok"})
	wantCode(t, err, hcloud.ErrorCodeUniquenessError)
}

func TestFirewallApplyRemoveAndInUse(t *testing.T) {
	f := start(t, 3600)
	fw := must[hcloud.FirewallCreateResult](t)(f.c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "fw"})).Firewall
	s := f.createServer(f.serverOpts("s1"))
	acts := must[[]*hcloud.Action](t)(f.c.Firewall.ApplyResources(ctx, fw, []hcloud.FirewallResource{{Type: "server", Server: &hcloud.FirewallResourceServer{ID: s.ID}}}))
	if err := f.c.Action.WaitFor(ctx, acts...); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.c.Firewall.ApplyResources(ctx, fw, []hcloud.FirewallResource{{Type: "server", Server: &hcloud.FirewallResourceServer{ID: s.ID}}})
	wantCode(t, err, hcloud.ErrorCodeFirewallAlreadyApplied)
	_, _, err = f.c.Firewall.ApplyResources(ctx, fw, []hcloud.FirewallResource{{Type: "server", Server: &hcloud.FirewallResourceServer{ID: 999}}})
	wantCode(t, err, hcloud.ErrorCodeFirewallResourceNotFound)
	got := must[*hcloud.Server](t)(f.c.Server.GetByID(ctx, s.ID))
	if len(got.PublicNet.Firewalls) != 1 || got.PublicNet.Firewalls[0].Firewall.ID != fw.ID {
		t.Fatalf("server firewalls: %+v", got.PublicNet.Firewalls)
	}
	_, err = f.c.Firewall.Delete(ctx, fw)
	wantCode(t, err, hcloud.ErrorCodeResourceInUse)
	acts = must[[]*hcloud.Action](t)(f.c.Firewall.RemoveResources(ctx, fw, []hcloud.FirewallResource{{Type: "server", Server: &hcloud.FirewallResourceServer{ID: s.ID}}}))
	if err := f.c.Action.WaitFor(ctx, acts...); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.c.Firewall.RemoveResources(ctx, fw, []hcloud.FirewallResource{{Type: "server", Server: &hcloud.FirewallResourceServer{ID: s.ID}}})
	wantCode(t, err, hcloud.ErrorCodeFirewallAlreadyRemoved)
	// One bad entry refuses the whole request: the good one is not applied either.
	_, _, err = f.c.Firewall.ApplyResources(ctx, fw, []hcloud.FirewallResource{
		{Type: "server", Server: &hcloud.FirewallResourceServer{ID: s.ID}}, {Type: "server", Server: &hcloud.FirewallResourceServer{ID: 999}}})
	wantCode(t, err, hcloud.ErrorCodeFirewallResourceNotFound)
	if got := must[*hcloud.Firewall](t)(f.c.Firewall.GetByID(ctx, fw.ID)); len(got.AppliedTo) != 0 {
		t.Fatalf("half-applied: %+v", got.AppliedTo)
	}
	// By label selector: the server shows up under applied_to_resources.
	acts = must[[]*hcloud.Action](t)(f.c.Firewall.ApplyResources(ctx, fw, []hcloud.FirewallResource{{Type: "label_selector", LabelSelector: &hcloud.FirewallResourceLabelSelector{Selector: "role=web"}}}))
	_ = f.c.Action.WaitFor(ctx, acts...)
	must[*hcloud.Server](t)(f.c.Server.Update(ctx, s, hcloud.ServerUpdateOpts{Labels: map[string]string{"role": "web"}}))
	gotFw := must[*hcloud.Firewall](t)(f.c.Firewall.GetByID(ctx, fw.ID))
	if len(gotFw.AppliedTo) != 1 || len(gotFw.AppliedTo[0].AppliedToResources) != 1 || gotFw.AppliedTo[0].AppliedToResources[0].Server.ID != s.ID {
		t.Fatalf("applied_to: %+v", gotFw.AppliedTo)
	}
	_, err = f.c.Firewall.Delete(ctx, fw)
	wantCode(t, err, hcloud.ErrorCodeResourceInUse)
}

func TestVolumeLifecycleAndInUse(t *testing.T) {
	f := start(t, 3600)
	s := f.createServer(f.serverOpts("s1"))
	_, _, err := f.c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "v", Size: 5, Location: &hcloud.Location{Name: "fsn1"}})
	wantCode(t, err, hcloud.ErrorCodeInvalidInput)
	v := must[hcloud.VolumeCreateResult](t)(f.c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "v", Size: 10, Location: &hcloud.Location{Name: "fsn1"}})).Volume
	if v.LinuxDevice != fmt.Sprintf("/dev/disk/by-id/scsi-0HC_Volume_%d", v.ID) {
		t.Fatalf("linux device %q", v.LinuxDevice)
	}
	a := must[*hcloud.Action](t)(f.c.Volume.Attach(ctx, v, s))
	if err := f.c.Action.WaitFor(ctx, a); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.c.Volume.Attach(ctx, v, s)
	wantCode(t, err, hcloud.ErrorCodeVolumeAlreadyAttached)
	_, err = f.c.Volume.Delete(ctx, v)
	wantCode(t, err, hcloud.ErrorCodeResourceInUse)
	if got := must[*hcloud.Server](t)(f.c.Server.GetByID(ctx, s.ID)); len(got.Volumes) != 1 {
		t.Fatalf("server volumes: %+v", got.Volumes)
	}
	_, _, err = f.c.Volume.Resize(ctx, v, 5)
	wantCode(t, err, hcloud.ErrorCodeInvalidInput)
	must[*hcloud.Action](t)(f.c.Volume.Resize(ctx, v, 20))
	must[*hcloud.Action](t)(f.c.Volume.Detach(ctx, v))
	if got := must[*hcloud.Volume](t)(f.c.Volume.GetByID(ctx, v.ID)); got.Size != 20 || got.Server != nil {
		t.Fatalf("volume: %+v", got)
	}
	if _, err := f.c.Volume.Delete(ctx, v); err != nil {
		t.Fatal(err)
	}
}

func TestProtection(t *testing.T) {
	f := start(t, 3600)
	s := f.createServer(f.serverOpts("s1"))
	_, _, err := f.c.Server.ChangeProtection(ctx, s, hcloud.ServerChangeProtectionOpts{Delete: hcloud.Ptr(true)})
	wantCode(t, err, hcloud.ErrorCodeInvalidInput) // a server's delete and rebuild protection must match
	must[*hcloud.Action](t)(f.c.Server.ChangeProtection(ctx, s, hcloud.ServerChangeProtectionOpts{Delete: hcloud.Ptr(true), Rebuild: hcloud.Ptr(true)}))
	_, _, err = f.c.Server.DeleteWithResult(ctx, s)
	wantCode(t, err, hcloud.ErrorCodeProtected)
	_, _, err = f.c.Server.RebuildWithResult(ctx, s, hcloud.ServerRebuildOpts{Image: &hcloud.Image{Name: "debian-12"}})
	wantCode(t, err, hcloud.ErrorCodeProtected)
	n := f.network("n", "10.0.0.0/16", "")
	must[*hcloud.Action](t)(f.c.Network.ChangeProtection(ctx, n, hcloud.NetworkChangeProtectionOpts{Delete: hcloud.Ptr(true)}))
	_, err = f.c.Network.Delete(ctx, n)
	wantCode(t, err, hcloud.ErrorCodeProtected)
	v := must[hcloud.VolumeCreateResult](t)(f.c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "v", Size: 10, Location: &hcloud.Location{Name: "fsn1"}})).Volume
	must[*hcloud.Action](t)(f.c.Volume.ChangeProtection(ctx, v, hcloud.VolumeChangeProtectionOpts{Delete: hcloud.Ptr(true)}))
	_, err = f.c.Volume.Delete(ctx, v)
	wantCode(t, err, hcloud.ErrorCodeProtected)
}

func TestUnknownIDsAreNotFound(t *testing.T) {
	f := start(t, 3600)
	_, err := f.c.SSHKey.Delete(ctx, &hcloud.SSHKey{ID: 42})
	wantCode(t, err, hcloud.ErrorCodeNotFound)
	_, err = f.c.Network.Delete(ctx, &hcloud.Network{ID: 42})
	wantCode(t, err, hcloud.ErrorCodeNotFound)
	_, err = f.c.Firewall.Delete(ctx, &hcloud.Firewall{ID: 42})
	wantCode(t, err, hcloud.ErrorCodeNotFound)
	_, err = f.c.PlacementGroup.Delete(ctx, &hcloud.PlacementGroup{ID: 42})
	wantCode(t, err, hcloud.ErrorCodeNotFound)
	_, _, err = f.c.Server.DeleteWithResult(ctx, &hcloud.Server{ID: 42})
	wantCode(t, err, hcloud.ErrorCodeNotFound)
	_, err = f.c.Volume.Delete(ctx, &hcloud.Volume{ID: 42})
	wantCode(t, err, hcloud.ErrorCodeNotFound)
	_, _, err = f.c.Server.Poweron(ctx, &hcloud.Server{ID: 42})
	wantCode(t, err, hcloud.ErrorCodeNotFound)
	// hcloud-go turns a 404 on GetByID into (nil, nil): the provider's "resource is gone".
	if s, _, err := f.c.Server.GetByID(ctx, 42); s != nil || err != nil {
		t.Fatalf("GetByID: %v %v", s, err)
	}
	o := f.serverOpts("s")
	o.SSHKeys = []*hcloud.SSHKey{{ID: 42}}
	_, _, err = f.c.Server.Create(ctx, o)
	wantCode(t, err, hcloud.ErrorCodeNotFound)
	status, body := f.raw("GET", "/servers/42", "")
	if status != 404 || !strings.Contains(body, `"not_found"`) {
		t.Fatalf("raw: %d %s", status, body)
	}
}

func TestUnauthorized(t *testing.T) {
	f := start(t, 3600)
	c := hcloud.NewClient(hcloud.WithEndpoint(f.url), hcloud.WithToken(strings.Repeat("x", 64)), hcloud.WithRetryOpts(hcloud.RetryOpts{MaxRetries: 0, BackoffFunc: hcloud.ConstantBackoff(0)}))
	_, err := c.SSHKey.All(ctx)
	wantCode(t, err, hcloud.ErrorCodeUnauthorized)
	req, _ := http.NewRequest("GET", f.url+"/ssh_keys", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
}

func TestRateLimitHeaders(t *testing.T) {
	f := start(t, 3)
	var remaining []int
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("GET", f.url+"/locations", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("RateLimit-Limit") != "3" {
			t.Fatalf("RateLimit-Limit %q", resp.Header.Get("RateLimit-Limit"))
		}
		n, _ := strconv.Atoi(resp.Header.Get("RateLimit-Remaining"))
		remaining = append(remaining, n)
		if reset, err := strconv.ParseInt(resp.Header.Get("RateLimit-Reset"), 10, 64); err != nil || reset < time.Now().Unix() {
			t.Fatalf("RateLimit-Reset %q", resp.Header.Get("RateLimit-Reset"))
		}
	}
	if remaining[0] != 2 || remaining[2] != 0 {
		t.Fatalf("remaining: %v", remaining)
	}
	status, body := f.raw("GET", "/locations", "")
	if status != 429 || !strings.Contains(body, `"rate_limit_exceeded"`) {
		t.Fatalf("over the limit: %d %s", status, body)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f := startAt(t, path, 3600)
	k := must[*hcloud.SSHKey](t)(f.c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "a", PublicKey: pubKeyA}))
	s := f.createServer(f.serverOpts("s1"))
	f.server.Close()
	g := startAt(t, path, 3600)
	if got := must[*hcloud.SSHKey](t)(g.c.SSHKey.GetByID(ctx, k.ID)); got == nil || got.Fingerprint != k.Fingerprint {
		t.Fatalf("ssh key after restart: %+v", got)
	}
	if got := must[*hcloud.Server](t)(g.c.Server.GetByID(ctx, s.ID)); got == nil || got.PublicNet.IPv4.IP.String() != s.PublicNet.IPv4.IP.String() {
		t.Fatalf("server after restart: %+v", got)
	}
	s2 := g.createServer(g.serverOpts("s2"))
	if s2.ID == s.ID || s2.PublicNet.IPv4.IP.Equal(s.PublicNet.IPv4.IP) {
		t.Fatal("IDs or addresses reused after restart")
	}
}

// The path the provider takes for a server: create with everything, wait for the actions, attach the
// network with a fixed IP, read it back, list by label selector page by page, change and delete it.
func TestServerLifecycle(t *testing.T) {
	f := start(t, 3600)
	key := must[*hcloud.SSHKey](t)(f.c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "k", PublicKey: pubKeyA}))
	n := f.network("n", "10.0.0.0/16", "10.0.1.0/24")
	fw := must[hcloud.FirewallCreateResult](t)(f.c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "fw"})).Firewall
	pg := must[hcloud.PlacementGroupCreateResult](t)(f.c.PlacementGroup.Create(ctx, hcloud.PlacementGroupCreateOpts{Name: "pg", Type: "spread"})).PlacementGroup
	o := f.serverOpts("m1")
	o.SSHKeys, o.UserData, o.Labels = []*hcloud.SSHKey{key}, "#cloud-config\n", map[string]string{"role": "manager"}
	o.Firewalls = []*hcloud.ServerCreateFirewall{{Firewall: *fw}}
	o.PlacementGroup = pg
	o.PublicNet = &hcloud.ServerCreatePublicNet{EnableIPv4: true, EnableIPv6: true}
	res := must[hcloud.ServerCreateResult](t)(f.c.Server.Create(ctx, o))
	if res.Action.Status != hcloud.ActionStatusRunning || res.RootPassword != "" {
		t.Fatalf("create: action %s, root password %q", res.Action.Status, res.RootPassword)
	}
	if err := f.c.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...); err != nil {
		t.Fatal(err)
	}
	done := must[*hcloud.Action](t)(f.c.Action.GetByID(ctx, res.Action.ID))
	if done.Status != hcloud.ActionStatusSuccess || done.Progress != 100 || done.Finished.IsZero() {
		t.Fatalf("action after wait: %+v", done)
	}
	a := must[*hcloud.Action](t)(f.c.Server.AttachToNetwork(ctx, res.Server, hcloud.ServerAttachToNetworkOpts{Network: n, IP: net.ParseIP("10.0.1.5")}))
	_ = f.c.Action.WaitFor(ctx, a)
	s := must[*hcloud.Server](t)(f.c.Server.GetByID(ctx, res.Server.ID))
	if s.Status != hcloud.ServerStatusRunning || s.Datacenter == nil || s.Datacenter.Location.Name != "fsn1" ||
		len(s.PrivateNet) != 1 || s.PrivateNet[0].IP.String() != "10.0.1.5" || s.PlacementGroup == nil || s.PlacementGroup.ID != pg.ID ||
		len(s.PublicNet.Firewalls) != 1 || s.Labels["role"] != "manager" || s.Image.Name != "debian-12" {
		t.Fatalf("server: %+v", s)
	}
	o2 := f.serverOpts("m2")
	o2.Networks = []*hcloud.Network{n}
	m2 := f.createServer(o2)
	_, _, err := f.c.Server.AttachToNetwork(ctx, m2, hcloud.ServerAttachToNetworkOpts{Network: n})
	wantCode(t, err, hcloud.ErrorCodeServerAlreadyAttached)
	if got := must[*hcloud.Server](t)(f.c.Server.GetByID(ctx, m2.ID)); got.PrivateNet[0].IP.String() != "10.0.1.1" {
		t.Fatalf("first free address: %s", got.PrivateNet[0].IP)
	}
	o3 := f.serverOpts("m3")
	o3.Networks = []*hcloud.Network{n}
	_, _, err = f.c.Server.AttachToNetwork(ctx, f.createServer(o3), hcloud.ServerAttachToNetworkOpts{Network: must[*hcloud.Network](t)(f.c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "n2", IPRange: mustCIDR("10.9.0.0/16")})), IP: net.ParseIP("10.9.0.5")})
	wantCode(t, err, hcloud.ErrorCodeNoSubnetAvailable)
	if got := must[*hcloud.Network](t)(f.c.Network.GetByID(ctx, n.ID)); len(got.Servers) != 3 {
		t.Fatalf("network servers: %v", got.Servers)
	}

	// Label selector and pagination as the provider lists.
	for i := 0; i < 3; i++ {
		lo := f.serverOpts(fmt.Sprintf("w%d", i))
		lo.Labels = map[string]string{"role": "worker"}
		f.createServer(lo)
	}
	workers, resp, err := f.c.Server.List(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "role=worker", PerPage: 2}})
	if err != nil || len(workers) != 2 || resp.Meta.Pagination == nil || resp.Meta.Pagination.TotalEntries != 3 || resp.Meta.Pagination.NextPage != 2 || resp.Meta.Pagination.LastPage != 2 {
		t.Fatalf("page 1: %d %+v %v", len(workers), resp.Meta.Pagination, err)
	}
	all := must[[]*hcloud.Server](t)(func() ([]*hcloud.Server, *hcloud.Response, error) {
		s, err := f.c.Server.AllWithOpts(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "role in (worker,manager),!gone", PerPage: 2}})
		return s, nil, err
	}())
	if len(all) != 4 {
		t.Fatalf("all with selector: %d", len(all))
	}

	// Power, type, network detach, rebuild, delete.
	_, _, err = f.c.Server.ChangeType(ctx, s, hcloud.ServerChangeTypeOpts{ServerType: &hcloud.ServerType{Name: "cx32"}, UpgradeDisk: true})
	wantCode(t, err, hcloud.ErrorCodeServerNotStopped)
	must[*hcloud.Action](t)(f.c.Server.Poweroff(ctx, s))
	must[*hcloud.Action](t)(f.c.Server.ChangeType(ctx, s, hcloud.ServerChangeTypeOpts{ServerType: &hcloud.ServerType{Name: "cx32"}, UpgradeDisk: true}))
	must[*hcloud.Action](t)(f.c.Server.Poweron(ctx, s))
	must[*hcloud.Action](t)(f.c.Server.Reboot(ctx, s))
	must[*hcloud.Action](t)(f.c.Server.Shutdown(ctx, s))
	must[*hcloud.Action](t)(f.c.Server.DetachFromNetwork(ctx, s, hcloud.ServerDetachFromNetworkOpts{Network: n}))
	must[hcloud.ServerRebuildResult](t)(f.c.Server.RebuildWithResult(ctx, s, hcloud.ServerRebuildOpts{Image: &hcloud.Image{Name: "debian-13"}}))
	got := must[*hcloud.Server](t)(f.c.Server.GetByID(ctx, s.ID))
	if got.ServerType.Name != "cx32" || len(got.PrivateNet) != 0 || got.Image.Name != "debian-13" || got.Status != hcloud.ServerStatusRunning {
		t.Fatalf("after actions: %+v", got)
	}
	actions := must[[]*hcloud.Action](t)(func() ([]*hcloud.Action, *hcloud.Response, error) {
		a, err := f.c.Server.Action.All(ctx, hcloud.ActionListOpts{})
		return a, nil, err
	}())
	if len(actions) == 0 {
		t.Fatal("no server actions listed")
	}
	del := must[*hcloud.ServerDeleteResult](t)(f.c.Server.DeleteWithResult(ctx, s))
	if err := f.c.Action.WaitFor(ctx, del.Action); err != nil {
		t.Fatal(err)
	}
	if got := must[*hcloud.Firewall](t)(f.c.Firewall.GetByID(ctx, fw.ID)); len(got.AppliedTo) != 0 {
		t.Fatalf("deleted server still in firewall: %+v", got.AppliedTo)
	}
	if got := must[*hcloud.PlacementGroup](t)(f.c.PlacementGroup.GetByID(ctx, pg.ID)); len(got.Servers) != 0 {
		t.Fatalf("deleted server still in placement group: %v", got.Servers)
	}
}

func TestCatalogue(t *testing.T) {
	f := start(t, 3600)
	st := must[*hcloud.ServerType](t)(f.c.ServerType.Get(ctx, "cax11"))
	img := must[*hcloud.Image](t)(f.c.Image.GetForArchitecture(ctx, "debian-12", st.Architecture))
	if img == nil || img.Architecture != hcloud.ArchitectureARM {
		t.Fatalf("image for arm: %+v", img)
	}
	if l := must[*hcloud.Location](t)(f.c.Location.Get(ctx, "fsn1")); l == nil || l.NetworkZone != "eu-central" {
		t.Fatalf("location: %+v", l)
	}
	if dcs, err := f.c.Datacenter.All(ctx); err != nil || len(dcs) == 0 {
		t.Fatalf("datacenters: %v", err)
	}
}

func (f *fixture) raw(method, path, body string) (int, string) {
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf strings.Builder
	var v any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	b, _ := json.Marshal(v)
	buf.Write(b)
	return resp.StatusCode, buf.String()
}

func TestMain(m *testing.M) {
	// The request log is for a running emulator; tests report through their own failures.
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}
