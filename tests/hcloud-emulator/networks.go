package main

// Networks with subnets and routes. The network's range must be an RFC 1918 range of /24 or larger;
// a subnet must lie inside it and overlap no other subnet; a route's gateway must lie inside it. The
// network's server list is derived from the servers' private_net entries.

import (
	"fmt"
	"net/http"
	"net/netip"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

var rfc1918 = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16")}

func (st *State) network(id int64) *schema.Network {
	for _, n := range st.Networks {
		if n.ID == id {
			return n
		}
	}
	return nil
}

func prefixInside(inner, outer netip.Prefix) bool {
	return inner.Bits() >= outer.Bits() && outer.Contains(inner.Addr())
}

func parseNetworkRange(field, raw string) (netip.Prefix, *apiError) {
	p, err := netip.ParsePrefix(raw)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return netip.Prefix{}, errInvalid(field, fmt.Sprintf("'%s' is not a valid IPv4 network in CIDR notation", raw))
	}
	return p, nil
}

func validateNetworkRange(raw string) (netip.Prefix, *apiError) {
	p, err := parseNetworkRange("ip_range", raw)
	if err != nil {
		return p, err
	}
	for _, r := range rfc1918 {
		if prefixInside(p, r) {
			if p.Bits() > 24 {
				return p, errInvalid("ip_range", "network must be /24 or larger")
			}
			return p, nil
		}
	}
	return p, errInvalid("ip_range", "must be inside one of the private ranges of RFC 1918 (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")
}

// addSubnet checks a subnet against the network and its other subnets and appends it.
func addSubnet(n *schema.Network, sub schema.NetworkSubnet) *apiError {
	if sub.Type != "cloud" && sub.Type != "server" && sub.Type != "vswitch" {
		return errInvalid("type", "must be one of cloud, server, vswitch")
	}
	if !networkZones[sub.NetworkZone] {
		return errInvalid("network_zone", fmt.Sprintf("unknown network zone '%s'", sub.NetworkZone))
	}
	netRange := netip.MustParsePrefix(n.IPRange)
	if sub.IPRange == "" {
		return errInvalid("ip_range", "is missing")
	}
	p, err := parseNetworkRange("ip_range", sub.IPRange)
	if err != nil {
		return err
	}
	if !prefixInside(p, netRange) {
		return errInvalid("ip_range", fmt.Sprintf("subnet %s is not inside the network's range %s", p, netRange))
	}
	for _, other := range n.Subnets {
		if netip.MustParsePrefix(other.IPRange).Overlaps(p) {
			return errInvalid("ip_range", fmt.Sprintf("subnet %s overlaps the existing subnet %s", p, other.IPRange))
		}
	}
	// Hetzner's gateway is the first address of the network's range, whatever the subnet.
	sub.IPRange = p.String()
	sub.Gateway = netRange.Addr().Next().String()
	n.Subnets = append(n.Subnets, sub)
	return nil
}

func addRoute(n *schema.Network, route schema.NetworkRoute) *apiError {
	if _, err := parseNetworkRange("destination", route.Destination); err != nil {
		return err
	}
	gw, err := netip.ParseAddr(route.Gateway)
	netRange := netip.MustParsePrefix(n.IPRange)
	if err != nil || !netRange.Contains(gw) || gw == netRange.Addr().Next() {
		return errInvalid("gateway", fmt.Sprintf("gateway %s must be an address inside the network's range %s other than its gateway", route.Gateway, netRange))
	}
	for _, r := range n.Routes {
		if r.Destination == route.Destination && r.Gateway == route.Gateway {
			return errUnique("destination", "route already exists")
		}
	}
	n.Routes = append(n.Routes, route)
	return nil
}

func (st *State) renderNetwork(n *schema.Network) schema.Network {
	out := *n
	out.Servers = []int64{}
	for _, s := range st.Servers {
		for _, pn := range s.PrivateNet {
			if pn.Network == n.ID {
				out.Servers = append(out.Servers, s.ID)
			}
		}
	}
	out.LoadBalancers = []int64{}
	if out.Subnets == nil {
		out.Subnets = []schema.NetworkSubnet{}
	}
	if out.Routes == nil {
		out.Routes = []schema.NetworkRoute{}
	}
	return out
}

func (e *Emulator) registerNetworks() {
	ref := func(id int64) resRef { return resRef{ID: id, Type: "network"} }
	e.handle("GET /v1/networks", func(r *request) (int, any, *apiError) {
		items, err := filter(r, r.st.Networks, func(n *schema.Network) string { return n.Name }, func(n *schema.Network) map[string]string { return n.Labels })
		if err != nil {
			return 0, nil, err
		}
		out := []schema.Network{}
		for _, n := range items {
			out = append(out, r.st.renderNetwork(n))
		}
		sortByQuery(r, out, func(n schema.Network) int64 { return n.ID }, func(n schema.Network) string { return n.Name })
		return page(r, "networks", out)
	})
	e.handle("GET /v1/networks/{id}", func(r *request) (int, any, *apiError) {
		n, err := r.network()
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, schema.NetworkGetResponse{Network: r.st.renderNetwork(n)}, nil
	})
	e.handle("POST /v1/networks", func(r *request) (int, any, *apiError) {
		var req schema.NetworkCreateRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		if err := requireName(req.Name); err != nil {
			return 0, nil, err
		}
		p, err := validateNetworkRange(req.IPRange)
		if err != nil {
			return 0, nil, err
		}
		labels := copyLabels(req.Labels)
		if err := validateLabels(labels); err != nil {
			return 0, nil, err
		}
		for _, n := range r.st.Networks {
			if n.Name == req.Name {
				return 0, nil, errUnique("name", "network with the same name already exists")
			}
		}
		n := &schema.Network{Name: req.Name, Created: r.now, IPRange: p.String(), Labels: labels,
			Subnets: []schema.NetworkSubnet{}, Routes: []schema.NetworkRoute{}, ExposeRoutesToVSwitch: req.ExposeRoutesToVSwitch}
		for _, sub := range req.Subnets {
			if err := addSubnet(n, sub); err != nil {
				return 0, nil, err
			}
		}
		for _, route := range req.Routes {
			if err := addRoute(n, route); err != nil {
				return 0, nil, err
			}
		}
		n.ID = r.st.nextID("network")
		r.st.Networks = append(r.st.Networks, n)
		return http.StatusCreated, schema.NetworkCreateResponse{Network: r.st.renderNetwork(n)}, nil
	})
	e.handle("PUT /v1/networks/{id}", func(r *request) (int, any, *apiError) {
		n, err := r.network()
		if err != nil {
			return 0, nil, err
		}
		var req schema.NetworkUpdateRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		if req.Name != "" && req.Name != n.Name {
			for _, other := range r.st.Networks {
				if other.Name == req.Name {
					return 0, nil, errUnique("name", "network with the same name already exists")
				}
			}
		}
		if req.Labels != nil {
			if err := validateLabels(*req.Labels); err != nil {
				return 0, nil, err
			}
			n.Labels = copyLabels(req.Labels)
		}
		if req.Name != "" {
			n.Name = req.Name
		}
		if req.ExposeRoutesToVSwitch != nil {
			n.ExposeRoutesToVSwitch = *req.ExposeRoutesToVSwitch
		}
		return http.StatusOK, schema.NetworkUpdateResponse{Network: r.st.renderNetwork(n)}, nil
	})
	e.handle("DELETE /v1/networks/{id}", func(r *request) (int, any, *apiError) {
		n, err := r.network()
		if err != nil {
			return 0, nil, err
		}
		if n.Protection.Delete {
			return 0, nil, errProtected("network", n.ID, "delete")
		}
		// Hetzner detaches attached servers in the background; here at once.
		for _, s := range r.st.Servers {
			s.detachNetwork(n.ID)
		}
		for i, x := range r.st.Networks {
			if x.ID == n.ID {
				r.st.Networks = append(r.st.Networks[:i], r.st.Networks[i+1:]...)
				break
			}
		}
		return http.StatusNoContent, nil, nil
	})
	action := func(name string, do func(r *request, n *schema.Network) *apiError) {
		e.handle("POST /v1/networks/{id}/actions/"+name, func(r *request) (int, any, *apiError) {
			n, err := r.network()
			if err != nil {
				return 0, nil, err
			}
			if err := do(r, n); err != nil {
				return 0, nil, err
			}
			return http.StatusCreated, map[string]any{"action": e.newAction(r, name, ref(n.ID))}, nil
		})
	}
	action("add_subnet", func(r *request, n *schema.Network) *apiError {
		var req schema.NetworkActionAddSubnetRequest
		if err := r.decode(&req); err != nil {
			return err
		}
		return addSubnet(n, schema.NetworkSubnet{Type: req.Type, IPRange: req.IPRange, NetworkZone: req.NetworkZone, VSwitchID: req.VSwitchID})
	})
	action("delete_subnet", func(r *request, n *schema.Network) *apiError {
		var req schema.NetworkActionDeleteSubnetRequest
		if err := r.decode(&req); err != nil {
			return err
		}
		for i, sub := range n.Subnets {
			if sub.IPRange != req.IPRange {
				continue
			}
			p := netip.MustParsePrefix(sub.IPRange)
			for _, s := range r.st.Servers {
				for _, pn := range s.PrivateNet {
					if a, err := netip.ParseAddr(pn.IP); err == nil && pn.Network == n.ID && p.Contains(a) {
						return errCode(http.StatusConflict, "resource_in_use", "subnet %s is in use by server with ID '%d'", sub.IPRange, s.ID)
					}
				}
			}
			n.Subnets = append(n.Subnets[:i], n.Subnets[i+1:]...)
			return nil
		}
		return errCode(http.StatusNotFound, "not_found", "subnet %s not found in network with ID '%d'", req.IPRange, n.ID)
	})
	action("add_route", func(r *request, n *schema.Network) *apiError {
		var req schema.NetworkActionAddRouteRequest
		if err := r.decode(&req); err != nil {
			return err
		}
		return addRoute(n, schema.NetworkRoute{Destination: req.Destination, Gateway: req.Gateway})
	})
	action("delete_route", func(r *request, n *schema.Network) *apiError {
		var req schema.NetworkActionDeleteRouteRequest
		if err := r.decode(&req); err != nil {
			return err
		}
		for i, route := range n.Routes {
			if route.Destination == req.Destination && route.Gateway == req.Gateway {
				n.Routes = append(n.Routes[:i], n.Routes[i+1:]...)
				return nil
			}
		}
		return errCode(http.StatusNotFound, "not_found", "route %s via %s not found in network with ID '%d'", req.Destination, req.Gateway, n.ID)
	})
	action("change_ip_range", func(r *request, n *schema.Network) *apiError {
		var req schema.NetworkActionChangeIPRangeRequest
		if err := r.decode(&req); err != nil {
			return err
		}
		p, err := validateNetworkRange(req.IPRange)
		if err != nil {
			return err
		}
		if !prefixInside(netip.MustParsePrefix(n.IPRange), p) {
			return errInvalid("ip_range", "a network's range can only be extended")
		}
		n.IPRange = p.String()
		return nil
	})
	action("change_protection", func(r *request, n *schema.Network) *apiError {
		var req schema.NetworkActionChangeProtectionRequest
		if err := r.decode(&req); err != nil {
			return err
		}
		if req.Delete != nil {
			n.Protection.Delete = *req.Delete
		}
		return nil
	})
}

func (r *request) network() (*schema.Network, *apiError) {
	id, err := r.id("id")
	if err != nil {
		return nil, err
	}
	n := r.st.network(id)
	if n == nil {
		return nil, errNotFound("network", id)
	}
	return n, nil
}

// errProtected is Hetzner's "protected": the resource's protection flag forbids the operation.
func errProtected(kind string, id int64, what string) *apiError {
	return errCode(http.StatusLocked, "protected", "%s with ID '%d' is protected against %s", kind, id, what)
}
