package main

// Servers: created with a type, an image for that type's architecture, a location, SSH keys, user-data,
// labels, networks, firewalls, a placement group and public_net; listed with label selectors and status;
// renamed and relabelled; deleted (unless protected); and the power, rebuild, type, network, placement and
// protection actions. Names must be unique and valid hostnames (RFC 1123).

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

var hostnameRe = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)

const userDataLimit = 32 * 1024

type ipv4Range struct{ prefix netip.Prefix }

func (st *State) server(id int64) *Server {
	for _, s := range st.Servers {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func validateServerName(name string) *apiError {
	if name == "" {
		return errInvalid("name", "is missing")
	}
	if len(name) > 253 || !hostnameRe.MatchString(name) {
		return errInvalid("name", "must be a valid hostname (RFC 1123)")
	}
	return nil
}

func (s *Server) detachNetwork(networkID int64) bool {
	for i, pn := range s.PrivateNet {
		if pn.Network == networkID {
			s.PrivateNet = append(s.PrivateNet[:i], s.PrivateNet[i+1:]...)
			return true
		}
	}
	return false
}

// attachNetwork gives the server an address in the network: the one asked for (inside a subnet, not in
// use, not reserved) or the first free one of the first subnet (the network address, the network's
// gateway — the first address of its range — and the broadcast address are never handed out).
func (st *State) attachNetwork(s *Server, n *schema.Network, ip string, aliases []string) *apiError {
	for _, pn := range s.PrivateNet {
		if pn.Network == n.ID {
			return errCode(http.StatusConflict, "server_already_attached", "server with ID '%d' is already attached to network with ID '%d'", s.ID, n.ID)
		}
	}
	if len(n.Subnets) == 0 {
		return errCode(http.StatusConflict, "no_subnet_available", "network with ID '%d' has no subnet", n.ID)
	}
	used := map[netip.Addr]bool{}
	for _, other := range st.Servers {
		for _, pn := range other.PrivateNet {
			if pn.Network == n.ID {
				if a, err := netip.ParseAddr(pn.IP); err == nil {
					used[a] = true
				}
				for _, alias := range pn.AliasIPs {
					if a, err := netip.ParseAddr(alias); err == nil {
						used[a] = true
					}
				}
			}
		}
	}
	reserved := func(p netip.Prefix, a netip.Addr) bool {
		gw := netip.MustParsePrefix(n.IPRange).Addr().Next()
		return a == p.Addr() || a == gw || a == lastAddr(p)
	}
	var chosen netip.Addr
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil || !a.Is4() {
			return errInvalid("ip", fmt.Sprintf("'%s' is not an IPv4 address", ip))
		}
		var in *netip.Prefix
		for _, sub := range n.Subnets {
			p := netip.MustParsePrefix(sub.IPRange)
			if p.Contains(a) {
				in = &p
			}
		}
		if in == nil || reserved(*in, a) || used[a] {
			return errCode(http.StatusConflict, "ip_not_available", "IP %s is not available in network with ID '%d'", ip, n.ID)
		}
		chosen = a
	} else {
		p := netip.MustParsePrefix(n.Subnets[0].IPRange)
		for a := p.Addr().Next(); p.Contains(a); a = a.Next() {
			if !reserved(p, a) && !used[a] {
				chosen = a
				break
			}
		}
		if !chosen.IsValid() {
			return errCode(http.StatusConflict, "no_subnet_available", "no address left in network with ID '%d'", n.ID)
		}
	}
	if aliases == nil {
		aliases = []string{}
	}
	s.PrivateNet = append(s.PrivateNet, schema.ServerPrivateNet{Network: n.ID, IP: chosen.String(), AliasIPs: aliases,
		MACAddress: fmt.Sprintf("86:00:00:%02x:%02x:%02x", byte(s.ID>>8), byte(s.ID), byte(n.ID))})
	return nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	hostBits := 32 - p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= (1 << hostBits) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// nextPublicIPv4 hands out addresses of -public-ipv4 in order, from the range's .2 (.1 is its gateway).
func (e *Emulator) nextPublicIPv4(st *State) (string, *apiError) {
	st.NextIPv4++
	a := e.publicIPv4.prefix.Addr().Next()
	for i := int64(0); i < st.NextIPv4; i++ {
		a = a.Next()
	}
	if !e.publicIPv4.prefix.Contains(a) || a == lastAddr(e.publicIPv4.prefix) {
		return "", errCode(http.StatusForbidden, "resource_limit_exceeded", "no public IPv4 address left in %s", e.publicIPv4.prefix)
	}
	return a.String(), nil
}

func (st *State) renderServer(s *Server) schema.Server {
	out := s.Server
	out.PublicNet.Firewalls = []schema.ServerFirewall{}
	for _, f := range st.Firewalls {
		for _, id := range st.serversOf(f) {
			if id == s.ID {
				out.PublicNet.Firewalls = append(out.PublicNet.Firewalls, schema.ServerFirewall{ID: f.ID, Status: "applied"})
				break
			}
		}
	}
	out.PublicNet.FloatingIPs = []int64{}
	out.Volumes = []int64{}
	for _, v := range st.Volumes {
		if v.Server != nil && *v.Server == s.ID {
			out.Volumes = append(out.Volumes, v.ID)
		}
	}
	out.PlacementGroup = nil
	if g := st.placementGroup(s.PlacementGroupID); g != nil {
		pg := st.renderPlacementGroup(g)
		out.PlacementGroup = &pg
	}
	for _, dc := range datacenters() {
		if dc.Location.Name == s.Location.Name {
			d := dc
			out.Datacenter = &d
		}
	}
	if out.PrivateNet == nil {
		out.PrivateNet = []schema.ServerPrivateNet{}
	}
	out.LoadBalancers = []int64{}
	return out
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (e *Emulator) registerServers() {
	ref := func(id int64) resRef { return resRef{ID: id, Type: "server"} }
	e.handle("GET /v1/servers", func(r *request) (int, any, *apiError) {
		items, err := filter(r, r.st.Servers, func(s *Server) string { return s.Name }, func(s *Server) map[string]string { return s.Labels })
		if err != nil {
			return 0, nil, err
		}
		out := []schema.Server{}
		for _, s := range items {
			if st := r.URL.Query()["status"]; len(st) > 0 && !contains(st, s.Status) {
				continue
			}
			out = append(out, r.st.renderServer(s))
		}
		sortByQuery(r, out, func(s schema.Server) int64 { return s.ID }, func(s schema.Server) string { return s.Name })
		return page(r, "servers", out)
	})
	e.handle("GET /v1/servers/{id}", func(r *request) (int, any, *apiError) {
		s, err := r.server()
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, schema.ServerGetResponse{Server: r.st.renderServer(s)}, nil
	})
	e.handle("POST /v1/servers", func(r *request) (int, any, *apiError) {
		var req schema.ServerCreateRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		if err := validateServerName(req.Name); err != nil {
			return 0, nil, err
		}
		for _, s := range r.st.Servers {
			if s.Name == req.Name {
				return 0, nil, errUnique("name", "server name is already used")
			}
		}
		st := findServerType(req.ServerType)
		if st == nil {
			return 0, nil, errInvalid("server_type", "server type not found")
		}
		im := findImage(req.Image, st.Architecture)
		if im == nil {
			return 0, nil, errInvalid("image", fmt.Sprintf("image not found for architecture %s", st.Architecture))
		}
		if im.Architecture != st.Architecture {
			return 0, nil, errInvalid("image", fmt.Sprintf("image is for architecture %s, the server type is %s", im.Architecture, st.Architecture))
		}
		locName := req.Location
		if locName == "" {
			locName = "fsn1"
		}
		loc := findLocation(locName)
		if loc == nil {
			return 0, nil, errInvalid("location", fmt.Sprintf("location '%s' not found", locName))
		}
		if len(req.UserData) > userDataLimit {
			return 0, nil, errInvalid("user_data", "is too long (at most 32 KiB)")
		}
		labels := copyLabels(req.Labels)
		if err := validateLabels(labels); err != nil {
			return 0, nil, err
		}
		for _, id := range req.SSHKeys {
			if r.st.sshKey(id) == nil {
				return 0, nil, errNotFound("ssh_key", id)
			}
		}
		var group *schema.PlacementGroup
		if req.PlacementGroup != 0 {
			if group = r.st.placementGroup(req.PlacementGroup); group == nil {
				return 0, nil, errNotFound("placement_group", req.PlacementGroup)
			}
			if err := r.st.checkRoom(group); err != nil {
				return 0, nil, err
			}
		}
		var firewalls []*schema.Firewall
		for _, fw := range req.Firewalls {
			f := r.st.firewall(fw.Firewall)
			if f == nil {
				return 0, nil, errNotFound("firewall", fw.Firewall)
			}
			firewalls = append(firewalls, f)
		}
		var networks []*schema.Network
		for _, id := range req.Networks {
			n := r.st.network(id)
			if n == nil {
				return 0, nil, errNotFound("network", id)
			}
			networks = append(networks, n)
		}
		for _, id := range req.Volumes {
			v := r.st.volume(id)
			if v == nil {
				return 0, nil, errNotFound("volume", id)
			}
			if v.Server != nil {
				return 0, nil, errCode(http.StatusConflict, "volume_already_attached", "volume with ID '%d' is already attached to a server", id)
			}
		}
		enableIPv4, enableIPv6 := true, true
		if req.PublicNet != nil {
			enableIPv4, enableIPv6 = req.PublicNet.EnableIPv4, req.PublicNet.EnableIPv6
			if req.PublicNet.IPv4ID != 0 || req.PublicNet.IPv6ID != 0 {
				return 0, nil, errCode(http.StatusNotImplemented, "unsupported_error", "primary IPs are not emulated")
			}
		}
		if !enableIPv4 && !enableIPv6 && len(networks) == 0 {
			return 0, nil, errInvalid("networks", "a server without public IPs needs at least one network")
		}
		if len(firewalls) > 0 && !enableIPv4 && !enableIPv6 {
			return 0, nil, errCode(http.StatusUnprocessableEntity, "private_net_only_server", "firewalls filter the public interface; this server has none")
		}

		s := &Server{UserData: req.UserData, DatacenterID: loc.ID, PublicKeys: []string{}}
		for _, id := range req.SSHKeys {
			s.PublicKeys = append(s.PublicKeys, r.st.sshKey(id).PublicKey)
		}
		s.ID = r.st.nextID("server")
		s.Name, s.Created, s.Labels = req.Name, r.now, labels
		s.ServerType, s.Location, s.Image = *st, *loc, im
		s.IncludedTraffic = uint64(st.IncludedTraffic)
		zero := uint64(0)
		s.OutgoingTraffic, s.IngoingTraffic = &zero, &zero
		s.PrimaryDiskSize = st.Disk
		s.Status = "running"
		if req.StartAfterCreate != nil && !*req.StartAfterCreate {
			s.Status = "off"
		}
		if enableIPv4 {
			ip, err := e.nextPublicIPv4(r.st)
			if err != nil {
				return 0, nil, err
			}
			s.PublicNet.IPv4 = schema.ServerPublicNetIPv4{ID: r.st.nextID("primary_ip"), IP: ip, DNSPtr: "static." + ip + ".clients.your-server.de"}
		}
		if enableIPv6 {
			s.PublicNet.IPv6 = schema.ServerPublicNetIPv6{ID: r.st.nextID("primary_ip"), IP: fmt.Sprintf("2001:db8:0:%x::/64", s.ID), DNSPtr: []schema.ServerPublicNetIPv6DNSPtr{}}
		}
		if group != nil {
			s.PlacementGroupID = group.ID
		}
		r.st.Servers = append(r.st.Servers, s)
		next := []schema.Action{}
		for _, n := range networks {
			if err := r.st.attachNetwork(s, n, "", nil); err != nil {
				r.st.Servers = r.st.Servers[:len(r.st.Servers)-1]
				return 0, nil, err
			}
		}
		for _, f := range firewalls {
			f.AppliedTo = append(f.AppliedTo, schema.FirewallResource{Type: "server", Server: &schema.FirewallResourceServer{ID: s.ID}})
			next = append(next, e.newAction(r, "apply_firewall", resRef{ID: f.ID, Type: "firewall"}, ref(s.ID)))
		}
		for _, id := range req.Volumes {
			v := r.st.volume(id)
			sid := s.ID
			v.Server = &sid
			next = append(next, e.newAction(r, "attach_volume", resRef{ID: v.ID, Type: "volume"}, ref(s.ID)))
		}
		if s.Status == "running" {
			next = append(next, e.newAction(r, "start_server", ref(s.ID)))
		}
		var rootPassword *string
		if len(req.SSHKeys) == 0 {
			pw := randomPassword()
			rootPassword = &pw
		}
		return http.StatusCreated, schema.ServerCreateResponse{
			Server: r.st.renderServer(s), Action: e.newAction(r, "create_server", ref(s.ID)), NextActions: next, RootPassword: rootPassword,
		}, nil
	})
	e.handle("PUT /v1/servers/{id}", func(r *request) (int, any, *apiError) {
		s, err := r.server()
		if err != nil {
			return 0, nil, err
		}
		var req schema.ServerUpdateRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		if req.Name != "" && req.Name != s.Name {
			if err := validateServerName(req.Name); err != nil {
				return 0, nil, err
			}
			for _, other := range r.st.Servers {
				if other.Name == req.Name {
					return 0, nil, errUnique("name", "server name is already used")
				}
			}
			s.Name = req.Name
		}
		if req.Labels != nil {
			if err := validateLabels(*req.Labels); err != nil {
				return 0, nil, err
			}
			s.Labels = copyLabels(req.Labels)
		}
		return http.StatusOK, schema.ServerUpdateResponse{Server: r.st.renderServer(s)}, nil
	})
	e.handle("DELETE /v1/servers/{id}", func(r *request) (int, any, *apiError) {
		s, err := r.server()
		if err != nil {
			return 0, nil, err
		}
		if s.Protection.Delete {
			return 0, nil, errProtected("server", s.ID, "delete")
		}
		// Hetzner detaches volumes and removes the server from its firewalls, networks and placement group.
		for _, v := range r.st.Volumes {
			if v.Server != nil && *v.Server == s.ID {
				v.Server = nil
			}
		}
		for _, f := range r.st.Firewalls {
			kept := []schema.FirewallResource{}
			for _, res := range f.AppliedTo {
				if !(res.Type == "server" && res.Server.ID == s.ID) {
					kept = append(kept, res)
				}
			}
			f.AppliedTo = kept
		}
		for i, x := range r.st.Servers {
			if x.ID == s.ID {
				r.st.Servers = append(r.st.Servers[:i], r.st.Servers[i+1:]...)
				break
			}
		}
		return http.StatusOK, schema.ServerDeleteResponse{Action: e.newAction(r, "delete_server", ref(s.ID))}, nil
	})

	action := func(name string, do func(r *request, s *Server) *apiError) {
		e.handle("POST /v1/servers/{id}/actions/"+name, func(r *request) (int, any, *apiError) {
			s, err := r.server()
			if err != nil {
				return 0, nil, err
			}
			if err := do(r, s); err != nil {
				return 0, nil, err
			}
			body := map[string]any{"action": e.newAction(r, name, ref(s.ID))}
			if name == "rebuild" {
				body["root_password"] = nil
			}
			return http.StatusCreated, body, nil
		})
	}
	power := func(status string) func(r *request, s *Server) *apiError {
		return func(r *request, s *Server) *apiError { s.Status = status; return nil }
	}
	action("poweron", power("running"))
	action("poweroff", power("off"))
	action("shutdown", power("off"))
	reboot := func(r *request, s *Server) *apiError {
		s.Status = "running"
		e.rebootMachine(s.ID)
		return nil
	}
	action("reboot", reboot)
	action("reset", reboot)
	action("rebuild", func(r *request, s *Server) *apiError {
		var req schema.ServerActionRebuildRequest
		if err := r.decode(&req); err != nil {
			return err
		}
		if s.Protection.Rebuild {
			return errProtected("server", s.ID, "rebuild")
		}
		im := findImage(req.Image, s.ServerType.Architecture)
		if im == nil {
			return errInvalid("image", "image not found for architecture "+s.ServerType.Architecture)
		}
		s.Image = im
		if req.UserData != nil {
			s.UserData = *req.UserData
		}
		s.Status = "running"
		return nil
	})
	action("change_type", func(r *request, s *Server) *apiError {
		var req schema.ServerActionChangeTypeRequest
		if err := r.decode(&req); err != nil {
			return err
		}
		if s.Status != "off" {
			return errCode(http.StatusConflict, "server_not_stopped", "server with ID '%d' must be stopped to change its type", s.ID)
		}
		st := findServerType(req.ServerType)
		if st == nil {
			return errInvalid("server_type", "server type not found")
		}
		if st.Architecture != s.ServerType.Architecture || (!req.UpgradeDisk && st.Disk < s.PrimaryDiskSize) || (req.UpgradeDisk && st.Disk < s.PrimaryDiskSize) {
			return errCode(http.StatusUnprocessableEntity, "invalid_server_type", "server type %s does not fit this server", st.Name)
		}
		s.ServerType = *st
		if req.UpgradeDisk {
			s.PrimaryDiskSize = st.Disk
		}
		return nil
	})
	action("attach_to_network", func(r *request, s *Server) *apiError {
		var req schema.ServerActionAttachToNetworkRequest
		if err := r.decode(&req); err != nil {
			return err
		}
		n := r.st.network(req.Network)
		if n == nil {
			return errNotFound("network", req.Network)
		}
		ip := ""
		if req.IP != nil {
			ip = *req.IP
		}
		aliases := []string{}
		for _, a := range req.AliasIPs {
			if a != nil {
				aliases = append(aliases, *a)
			}
		}
		return r.st.attachNetwork(s, n, ip, aliases)
	})
	action("detach_from_network", func(r *request, s *Server) *apiError {
		var req schema.ServerActionDetachFromNetworkRequest
		if err := r.decode(&req); err != nil {
			return err
		}
		if r.st.network(req.Network) == nil {
			return errNotFound("network", req.Network)
		}
		if !s.detachNetwork(req.Network) {
			return errCode(http.StatusConflict, "server_not_attached_to_network", "server with ID '%d' is not attached to network with ID '%d'", s.ID, req.Network)
		}
		return nil
	})
	action("change_alias_ips", func(r *request, s *Server) *apiError {
		var req schema.ServerActionChangeAliasIPsRequest
		if err := r.decode(&req); err != nil {
			return err
		}
		for i, pn := range s.PrivateNet {
			if pn.Network == req.Network {
				s.PrivateNet[i].AliasIPs = append([]string{}, req.AliasIPs...)
				return nil
			}
		}
		return errCode(http.StatusConflict, "server_not_attached_to_network", "server with ID '%d' is not attached to network with ID '%d'", s.ID, req.Network)
	})
	action("change_protection", func(r *request, s *Server) *apiError {
		var req schema.ServerActionChangeProtectionRequest
		if err := r.decode(&req); err != nil {
			return err
		}
		del, reb := s.Protection.Delete, s.Protection.Rebuild
		if req.Delete != nil {
			del = *req.Delete
		}
		if req.Rebuild != nil {
			reb = *req.Rebuild
		}
		// Hetzner requires a server's delete and rebuild protection to be equal.
		if del != reb {
			return errInvalid("rebuild", "must be the same as delete")
		}
		s.Protection.Delete, s.Protection.Rebuild = del, reb
		return nil
	})
	action("add_to_placement_group", func(r *request, s *Server) *apiError {
		var req schema.ServerActionAddToPlacementGroupRequest
		if err := r.decode(&req); err != nil {
			return err
		}
		g := r.st.placementGroup(req.PlacementGroup)
		if g == nil {
			return errNotFound("placement_group", req.PlacementGroup)
		}
		if s.Status != "off" {
			return errCode(http.StatusConflict, "server_not_stopped", "server with ID '%d' must be stopped to change its placement group", s.ID)
		}
		if s.PlacementGroupID != 0 {
			return errCode(http.StatusConflict, "server_already_added", "server with ID '%d' is already in a placement group", s.ID)
		}
		if err := r.st.checkRoom(g); err != nil {
			return err
		}
		s.PlacementGroupID = g.ID
		return nil
	})
	action("remove_from_placement_group", func(r *request, s *Server) *apiError {
		if s.PlacementGroupID == 0 {
			return errCode(http.StatusConflict, "not_found", "server with ID '%d' is in no placement group", s.ID)
		}
		s.PlacementGroupID = 0
		return nil
	})
	action("enable_backup", func(r *request, s *Server) *apiError {
		w := "22-02"
		s.BackupWindow = &w
		return nil
	})
	action("disable_backup", func(r *request, s *Server) *apiError {
		s.BackupWindow = nil
		return nil
	})
}

func (r *request) server() (*Server, *apiError) {
	id, err := r.id("id")
	if err != nil {
		return nil, err
	}
	s := r.st.server(id)
	if s == nil {
		return nil, errNotFound("server", id)
	}
	return s, nil
}
