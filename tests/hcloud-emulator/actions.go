package main

// Actions: every change that Hetzner performs asynchronously returns an action that is "running" with a
// growing progress until -action-delay has passed, then "success" with progress 100 and a finished time.
// The change itself is applied to the state at once (what the API shows while the action runs is the end
// state; Hetzner's intermediate states such as a server's "initializing" are not modelled).

import (
	"net/http"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

type resRef = schema.ActionResourceReference

func (e *Emulator) newAction(r *request, command string, resources ...resRef) schema.Action {
	a := &Action{
		Action: schema.Action{
			ID: r.st.nextID("action"), Status: "running", Command: command, Progress: 0, Started: r.now,
			Resources: resources,
		},
		FinishAt: r.now.Add(e.actionDelay),
	}
	r.st.Actions = append(r.st.Actions, a)
	return a.render(r)
}

func (a *Action) render(r *request) schema.Action {
	out := a.Action
	if out.Resources == nil {
		out.Resources = []schema.ActionResourceReference{}
	}
	if !r.now.Before(a.FinishAt) {
		finished := a.FinishAt
		out.Status, out.Progress, out.Finished = "success", 100, &finished
		return out
	}
	total := a.FinishAt.Sub(a.Started)
	if total > 0 {
		out.Progress = int(100 * r.now.Sub(a.Started) / total)
	}
	return out
}

func (e *Emulator) registerActions() {
	list := func(r *request, resourceType string, resourceID int64) (int, any, *apiError) {
		q := r.URL.Query()
		ids := map[int64]bool{}
		for _, raw := range q["id"] {
			id, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				return 0, nil, errInvalid("id", "invalid ID")
			}
			ids[id] = true
		}
		out := []schema.Action{}
		for _, a := range r.st.Actions {
			if len(ids) > 0 && !ids[a.ID] {
				continue
			}
			if resourceType != "" && !a.touches(resourceType, resourceID) {
				continue
			}
			rendered := a.render(r)
			if s := q["status"]; len(s) > 0 && !contains(s, rendered.Status) {
				continue
			}
			out = append(out, rendered)
		}
		sortByQuery(r, out, func(a schema.Action) int64 { return a.ID }, func(a schema.Action) string { return a.Command })
		return page(r, "actions", out)
	}
	get := func(r *request, resourceType string, resourceID int64) (int, any, *apiError) {
		id, err := r.id("action")
		if err != nil {
			return 0, nil, err
		}
		for _, a := range r.st.Actions {
			if a.ID == id && (resourceType == "" || a.touches(resourceType, resourceID)) {
				return http.StatusOK, schema.ActionGetResponse{Action: a.render(r)}, nil
			}
		}
		return 0, nil, errNotFound("action", id)
	}
	e.handle("GET /v1/actions", func(r *request) (int, any, *apiError) { return list(r, "", 0) })
	e.handle("GET /v1/actions/{action}", func(r *request) (int, any, *apiError) { return get(r, "", 0) })
	// Per-resource action lists: /<collection>/actions, /<collection>/{id}/actions and one action of a
	// resource. (/<collection>/actions/{id} is not served: its pattern collides with /<collection>/{id}/actions
	// in Go's router; clients read single actions from /actions/{id}.)
	for collection, typ := range map[string]string{
		"servers": "server", "networks": "network", "firewalls": "firewall", "volumes": "volume",
		"placement_groups": "placement_group", "ssh_keys": "ssh_key",
	} {
		e.handle("GET /v1/"+collection+"/actions", func(r *request) (int, any, *apiError) { return list(r, typ, 0) })
		e.handle("GET /v1/"+collection+"/{id}/actions", func(r *request) (int, any, *apiError) {
			id, err := r.id("id")
			if err != nil {
				return 0, nil, err
			}
			return list(r, typ, id)
		})
		e.handle("GET /v1/"+collection+"/{id}/actions/{action}", func(r *request) (int, any, *apiError) {
			id, err := r.id("id")
			if err != nil {
				return 0, nil, err
			}
			return get(r, typ, id)
		})
	}
}

// touches: the action names a resource of this type (and this id, unless id is 0).
func (a *Action) touches(typ string, id int64) bool {
	for _, res := range a.Resources {
		if res.Type == typ && (id == 0 || res.ID == id) {
			return true
		}
	}
	return false
}
