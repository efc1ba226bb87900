package main

// Placement groups (type "spread", the only type Hetzner has): at most 10 servers each. The member list
// is derived from the servers.

import (
	"net/http"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

const spreadGroupLimit = 10

func (st *State) placementGroup(id int64) *schema.PlacementGroup {
	for _, g := range st.PlacementGroups {
		if g.ID == id {
			return g
		}
	}
	return nil
}

func (st *State) renderPlacementGroup(g *schema.PlacementGroup) schema.PlacementGroup {
	out := *g
	out.Servers = []int64{}
	for _, s := range st.Servers {
		if s.PlacementGroupID == g.ID {
			out.Servers = append(out.Servers, s.ID)
		}
	}
	return out
}

// checkRoom refuses an 11th server with the error Hetzner gives
// ("placement group with ID N contains already 10 servers", placement_group_member_limit_reached).
func (st *State) checkRoom(g *schema.PlacementGroup) *apiError {
	if len(st.renderPlacementGroup(g).Servers) >= spreadGroupLimit {
		return errCode(http.StatusUnprocessableEntity, "placement_group_member_limit_reached", "placement group with ID %d contains already %d servers", g.ID, spreadGroupLimit)
	}
	return nil
}

func (e *Emulator) registerPlacementGroups() {
	e.handle("GET /v1/placement_groups", func(r *request) (int, any, *apiError) {
		items, err := filter(r, r.st.PlacementGroups, func(g *schema.PlacementGroup) string { return g.Name }, func(g *schema.PlacementGroup) map[string]string { return g.Labels })
		if err != nil {
			return 0, nil, err
		}
		out := []schema.PlacementGroup{}
		for _, g := range items {
			if t := r.URL.Query()["type"]; len(t) > 0 && !contains(t, g.Type) {
				continue
			}
			out = append(out, r.st.renderPlacementGroup(g))
		}
		sortByQuery(r, out, func(g schema.PlacementGroup) int64 { return g.ID }, func(g schema.PlacementGroup) string { return g.Name })
		return page(r, "placement_groups", out)
	})
	e.handle("GET /v1/placement_groups/{id}", func(r *request) (int, any, *apiError) {
		g, err := r.placementGroup()
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, schema.PlacementGroupGetResponse{PlacementGroup: r.st.renderPlacementGroup(g)}, nil
	})
	e.handle("POST /v1/placement_groups", func(r *request) (int, any, *apiError) {
		var req schema.PlacementGroupCreateRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		if err := requireName(req.Name); err != nil {
			return 0, nil, err
		}
		if req.Type != "spread" {
			return 0, nil, errInvalid("type", "must be spread")
		}
		labels := copyLabels(req.Labels)
		if err := validateLabels(labels); err != nil {
			return 0, nil, err
		}
		for _, g := range r.st.PlacementGroups {
			if g.Name == req.Name {
				return 0, nil, errUnique("name", "placement group with the same name already exists")
			}
		}
		g := &schema.PlacementGroup{ID: r.st.nextID("placement_group"), Name: req.Name, Labels: labels, Created: r.now, Type: req.Type}
		r.st.PlacementGroups = append(r.st.PlacementGroups, g)
		return http.StatusCreated, schema.PlacementGroupCreateResponse{PlacementGroup: r.st.renderPlacementGroup(g)}, nil
	})
	e.handle("PUT /v1/placement_groups/{id}", func(r *request) (int, any, *apiError) {
		g, err := r.placementGroup()
		if err != nil {
			return 0, nil, err
		}
		var req schema.PlacementGroupUpdateRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		if req.Name != nil && *req.Name != g.Name {
			for _, other := range r.st.PlacementGroups {
				if other.Name == *req.Name {
					return 0, nil, errUnique("name", "placement group with the same name already exists")
				}
			}
		}
		if req.Labels != nil {
			if err := validateLabels(*req.Labels); err != nil {
				return 0, nil, err
			}
			g.Labels = copyLabels(req.Labels)
		}
		if req.Name != nil && *req.Name != "" {
			g.Name = *req.Name
		}
		return http.StatusOK, schema.PlacementGroupUpdateResponse{PlacementGroup: r.st.renderPlacementGroup(g)}, nil
	})
	e.handle("DELETE /v1/placement_groups/{id}", func(r *request) (int, any, *apiError) {
		g, err := r.placementGroup()
		if err != nil {
			return 0, nil, err
		}
		if n := len(r.st.renderPlacementGroup(g).Servers); n > 0 {
			return 0, nil, errCode(http.StatusConflict, "resource_in_use", "placement group with ID '%d' still has %d servers", g.ID, n)
		}
		for i, x := range r.st.PlacementGroups {
			if x.ID == g.ID {
				r.st.PlacementGroups = append(r.st.PlacementGroups[:i], r.st.PlacementGroups[i+1:]...)
				break
			}
		}
		return http.StatusNoContent, nil, nil
	})
}

func (r *request) placementGroup() (*schema.PlacementGroup, *apiError) {
	id, err := r.id("id")
	if err != nil {
		return nil, err
	}
	g := r.st.placementGroup(id)
	if g == nil {
		return nil, errNotFound("placement_group", id)
	}
	return g, nil
}
