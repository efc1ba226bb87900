package main

// Firewalls: rules validated as Hetzner does (direction, protocol, port only and always for tcp/udp,
// source IPs for inbound and destination IPs for outbound rules, CIDRs), applied to servers by id or by
// label selector, and refused deletion while applied (resource_in_use).

import (
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

var portRe = regexp.MustCompile(`^(\d{1,5})(-(\d{1,5}))?$`)

func (st *State) firewall(id int64) *schema.Firewall {
	for _, f := range st.Firewalls {
		if f.ID == id {
			return f
		}
	}
	return nil
}

func validateRules(req []schema.FirewallRuleRequest) ([]schema.FirewallRule, *apiError) {
	out := []schema.FirewallRule{}
	for i, r := range req {
		field := func(name string) string { return fmt.Sprintf("rules[%d].%s", i, name) }
		if r.Direction != "in" && r.Direction != "out" {
			return nil, errInvalid(field("direction"), "must be one of in, out")
		}
		switch r.Protocol {
		case "tcp", "udp":
			if r.Port == nil || *r.Port == "" {
				return nil, errInvalid(field("port"), "is required for protocol "+r.Protocol)
			}
			if *r.Port != "any" {
				m := portRe.FindStringSubmatch(*r.Port)
				if m == nil {
					return nil, errInvalid(field("port"), "must be a port, a range such as 80-85, or any")
				}
				lo, _ := strconv.Atoi(m[1])
				hi := lo
				if m[3] != "" {
					hi, _ = strconv.Atoi(m[3])
				}
				if lo < 1 || hi > 65535 || lo > hi {
					return nil, errInvalid(field("port"), "ports must be between 1 and 65535, the range ascending")
				}
			}
		case "icmp", "esp", "gre":
			if r.Port != nil && *r.Port != "" {
				return nil, errInvalid(field("port"), "is not allowed for protocol "+r.Protocol)
			}
		default:
			return nil, errInvalid(field("protocol"), "must be one of tcp, udp, icmp, esp, gre")
		}
		ips, ipsField := r.SourceIPs, "source_ips"
		if r.Direction == "out" {
			ips, ipsField = r.DestinationIPs, "destination_ips"
			if len(r.SourceIPs) > 0 {
				return nil, errInvalid(field("source_ips"), "is not allowed for direction out")
			}
		} else if len(r.DestinationIPs) > 0 {
			return nil, errInvalid(field("destination_ips"), "is not allowed for direction in")
		}
		if len(ips) == 0 {
			return nil, errInvalid(field(ipsField), "is required for direction "+r.Direction)
		}
		for _, ip := range ips {
			p, err := netip.ParsePrefix(ip)
			if err != nil || p.Masked() != p {
				return nil, errInvalid(field(ipsField), fmt.Sprintf("'%s' is not a network in CIDR notation", ip))
			}
		}
		if r.Description != nil && len(*r.Description) > 255 {
			return nil, errInvalid(field("description"), "is too long")
		}
		rule := schema.FirewallRule{Direction: r.Direction, Protocol: r.Protocol, Port: r.Port, Description: r.Description,
			SourceIPs: append([]string{}, r.SourceIPs...), DestinationIPs: append([]string{}, r.DestinationIPs...)}
		if rule.Port != nil && *rule.Port == "" {
			rule.Port = nil
		}
		out = append(out, rule)
	}
	return out, nil
}

// serversOf lists the servers a firewall acts on: applied directly or through a label selector.
func (st *State) serversOf(f *schema.Firewall) []int64 {
	ids := []int64{}
	for _, res := range f.AppliedTo {
		switch res.Type {
		case "server":
			ids = append(ids, res.Server.ID)
		case "label_selector":
			sel, _ := parseSelector(res.LabelSelector.Selector)
			for _, s := range st.Servers {
				if sel.matches(s.Labels) {
					ids = append(ids, s.ID)
				}
			}
		}
	}
	return ids
}

func (st *State) renderFirewall(f *schema.Firewall) schema.Firewall {
	out := *f
	out.AppliedTo = []schema.FirewallResource{}
	for _, res := range f.AppliedTo {
		if res.Type == "label_selector" {
			res.AppliedToResources = []schema.FirewallResource{}
			sel, _ := parseSelector(res.LabelSelector.Selector)
			for _, s := range st.Servers {
				if sel.matches(s.Labels) {
					res.AppliedToResources = append(res.AppliedToResources, schema.FirewallResource{Type: "server", Server: &schema.FirewallResourceServer{ID: s.ID}})
				}
			}
		}
		out.AppliedTo = append(out.AppliedTo, res)
	}
	if out.Rules == nil {
		out.Rules = []schema.FirewallRule{}
	}
	return out
}

// applyTo validates every resource first, then adds them to the firewall with one apply_firewall action
// each: a bad entry leaves neither the firewall nor the action list changed.
func (e *Emulator) applyTo(r *request, f *schema.Firewall, resources []schema.FirewallResource) ([]schema.Action, *apiError) {
	applied := append([]schema.FirewallResource{}, f.AppliedTo...)
	for _, res := range resources {
		switch res.Type {
		case "server":
			if res.Server == nil || r.st.server(res.Server.ID) == nil {
				return nil, errCode(http.StatusNotFound, "firewall_resource_not_found", "server to apply the firewall to not found")
			}
			for _, have := range applied {
				if have.Type == "server" && have.Server.ID == res.Server.ID {
					return nil, errCode(http.StatusConflict, "firewall_already_applied", "firewall with ID '%d' is already applied to server with ID '%d'", f.ID, res.Server.ID)
				}
			}
			applied = append(applied, schema.FirewallResource{Type: "server", Server: &schema.FirewallResourceServer{ID: res.Server.ID}})
		case "label_selector":
			if res.LabelSelector == nil {
				return nil, errInvalid("apply_to.label_selector", "is missing")
			}
			if _, err := parseSelector(res.LabelSelector.Selector); err != nil {
				return nil, errInvalid("apply_to.label_selector.selector", err.Error())
			}
			for _, have := range applied {
				if have.Type == "label_selector" && have.LabelSelector.Selector == res.LabelSelector.Selector {
					return nil, errCode(http.StatusConflict, "firewall_already_applied", "firewall with ID '%d' is already applied to label selector '%s'", f.ID, res.LabelSelector.Selector)
				}
			}
			applied = append(applied, schema.FirewallResource{Type: "label_selector", LabelSelector: &schema.FirewallResourceLabelSelector{Selector: res.LabelSelector.Selector}})
		default:
			return nil, errInvalid("apply_to.type", "must be one of server, label_selector")
		}
	}
	actions := []schema.Action{}
	for _, res := range applied[len(f.AppliedTo):] {
		refs := []resRef{{ID: f.ID, Type: "firewall"}}
		if res.Type == "server" {
			refs = append(refs, resRef{ID: res.Server.ID, Type: "server"})
		}
		actions = append(actions, e.newAction(r, "apply_firewall", refs...))
	}
	f.AppliedTo = applied
	return actions, nil
}

func (e *Emulator) registerFirewalls() {
	e.handle("GET /v1/firewalls", func(r *request) (int, any, *apiError) {
		items, err := filter(r, r.st.Firewalls, func(f *schema.Firewall) string { return f.Name }, func(f *schema.Firewall) map[string]string { return f.Labels })
		if err != nil {
			return 0, nil, err
		}
		out := []schema.Firewall{}
		for _, f := range items {
			out = append(out, r.st.renderFirewall(f))
		}
		sortByQuery(r, out, func(f schema.Firewall) int64 { return f.ID }, func(f schema.Firewall) string { return f.Name })
		return page(r, "firewalls", out)
	})
	e.handle("GET /v1/firewalls/{id}", func(r *request) (int, any, *apiError) {
		f, err := r.firewall()
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, schema.FirewallGetResponse{Firewall: r.st.renderFirewall(f)}, nil
	})
	e.handle("POST /v1/firewalls", func(r *request) (int, any, *apiError) {
		var req schema.FirewallCreateRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		if err := requireName(req.Name); err != nil {
			return 0, nil, err
		}
		labels := copyLabels(req.Labels)
		if err := validateLabels(labels); err != nil {
			return 0, nil, err
		}
		rules, err := validateRules(req.Rules)
		if err != nil {
			return 0, nil, err
		}
		for _, f := range r.st.Firewalls {
			if f.Name == req.Name {
				return 0, nil, errUnique("name", "firewall with the same name already exists")
			}
		}
		f := &schema.Firewall{Name: req.Name, Labels: labels, Created: r.now, Rules: rules, AppliedTo: []schema.FirewallResource{}}
		// The id first: the apply actions name the firewall. A bad apply_to costs an id, nothing else.
		f.ID = r.st.nextID("firewall")
		actions, err := e.applyTo(r, f, req.ApplyTo)
		if err != nil {
			return 0, nil, err
		}
		r.st.Firewalls = append(r.st.Firewalls, f)
		return http.StatusCreated, schema.FirewallCreateResponse{Firewall: r.st.renderFirewall(f), Actions: actions}, nil
	})
	e.handle("PUT /v1/firewalls/{id}", func(r *request) (int, any, *apiError) {
		f, err := r.firewall()
		if err != nil {
			return 0, nil, err
		}
		var req schema.FirewallUpdateRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		if req.Name != nil && *req.Name != f.Name {
			for _, other := range r.st.Firewalls {
				if other.Name == *req.Name {
					return 0, nil, errUnique("name", "firewall with the same name already exists")
				}
			}
		}
		if req.Labels != nil {
			if err := validateLabels(*req.Labels); err != nil {
				return 0, nil, err
			}
			f.Labels = copyLabels(req.Labels)
		}
		if req.Name != nil && *req.Name != "" {
			f.Name = *req.Name
		}
		return http.StatusOK, schema.FirewallUpdateResponse{Firewall: r.st.renderFirewall(f)}, nil
	})
	e.handle("DELETE /v1/firewalls/{id}", func(r *request) (int, any, *apiError) {
		f, err := r.firewall()
		if err != nil {
			return 0, nil, err
		}
		if len(f.AppliedTo) > 0 {
			return 0, nil, errCode(http.StatusConflict, "resource_in_use", "firewall with ID '%d' is still applied to resources: remove it from them first", f.ID)
		}
		for i, x := range r.st.Firewalls {
			if x.ID == f.ID {
				r.st.Firewalls = append(r.st.Firewalls[:i], r.st.Firewalls[i+1:]...)
				break
			}
		}
		return http.StatusNoContent, nil, nil
	})
	e.handle("POST /v1/firewalls/{id}/actions/set_rules", func(r *request) (int, any, *apiError) {
		f, err := r.firewall()
		if err != nil {
			return 0, nil, err
		}
		var req schema.FirewallActionSetRulesRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		rules, err := validateRules(req.Rules)
		if err != nil {
			return 0, nil, err
		}
		f.Rules = rules
		actions := []schema.Action{e.newAction(r, "set_firewall_rules", resRef{ID: f.ID, Type: "firewall"})}
		for _, id := range r.st.serversOf(f) {
			actions = append(actions, e.newAction(r, "apply_firewall", resRef{ID: f.ID, Type: "firewall"}, resRef{ID: id, Type: "server"}))
		}
		return http.StatusCreated, schema.FirewallActionSetRulesResponse{Actions: actions}, nil
	})
	e.handle("POST /v1/firewalls/{id}/actions/apply_to_resources", func(r *request) (int, any, *apiError) {
		f, err := r.firewall()
		if err != nil {
			return 0, nil, err
		}
		var req schema.FirewallActionApplyToResourcesRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		actions, err := e.applyTo(r, f, req.ApplyTo)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, schema.FirewallActionApplyToResourcesResponse{Actions: actions}, nil
	})
	e.handle("POST /v1/firewalls/{id}/actions/remove_from_resources", func(r *request) (int, any, *apiError) {
		f, err := r.firewall()
		if err != nil {
			return 0, nil, err
		}
		var req schema.FirewallActionRemoveFromResourcesRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		remaining := append([]schema.FirewallResource{}, f.AppliedTo...)
		actions := []schema.Action{}
		for _, res := range req.RemoveFrom {
			found := -1
			for i, have := range remaining {
				if have.Type == res.Type && ((res.Type == "server" && res.Server != nil && have.Server.ID == res.Server.ID) ||
					(res.Type == "label_selector" && res.LabelSelector != nil && have.LabelSelector.Selector == res.LabelSelector.Selector)) {
					found = i
				}
			}
			if found < 0 {
				return 0, nil, errCode(http.StatusConflict, "firewall_already_removed", "firewall with ID '%d' is not applied to this resource", f.ID)
			}
			remaining = append(remaining[:found], remaining[found+1:]...)
			refs := []resRef{{ID: f.ID, Type: "firewall"}}
			if res.Type == "server" {
				refs = append(refs, resRef{ID: res.Server.ID, Type: "server"})
			}
			actions = append(actions, e.newAction(r, "remove_firewall", refs...))
		}
		f.AppliedTo = remaining
		return http.StatusCreated, schema.FirewallActionRemoveFromResourcesResponse{Actions: actions}, nil
	})
}

func (r *request) firewall() (*schema.Firewall, *apiError) {
	id, err := r.id("id")
	if err != nil {
		return nil, err
	}
	f := r.st.firewall(id)
	if f == nil {
		return nil, errNotFound("firewall", id)
	}
	return f, nil
}
