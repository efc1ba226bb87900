package main

// Volumes: 10 to 10240 GB, in a location (or a server's), attached to at most one server in the same
// location, grown (never shrunk), deleted only when detached and unprotected.

import (
	"fmt"
	"net/http"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

func (st *State) volume(id int64) *schema.Volume {
	for _, v := range st.Volumes {
		if v.ID == id {
			return v
		}
	}
	return nil
}

func validateVolumeSize(size int) *apiError {
	if size < 10 || size > 10240 {
		return errInvalid("size", "must be between 10 and 10240 (GB)")
	}
	return nil
}

func (e *Emulator) registerVolumes() {
	ref := func(id int64) resRef { return resRef{ID: id, Type: "volume"} }
	e.handle("GET /v1/volumes", func(r *request) (int, any, *apiError) {
		items, err := filter(r, r.st.Volumes, func(v *schema.Volume) string { return v.Name }, func(v *schema.Volume) map[string]string { return v.Labels })
		if err != nil {
			return 0, nil, err
		}
		out := []schema.Volume{}
		for _, v := range items {
			out = append(out, *v)
		}
		sortByQuery(r, out, func(v schema.Volume) int64 { return v.ID }, func(v schema.Volume) string { return v.Name })
		return page(r, "volumes", out)
	})
	e.handle("GET /v1/volumes/{id}", func(r *request) (int, any, *apiError) {
		v, err := r.volume()
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, schema.VolumeGetResponse{Volume: *v}, nil
	})
	e.handle("POST /v1/volumes", func(r *request) (int, any, *apiError) {
		var req schema.VolumeCreateRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		if err := requireName(req.Name); err != nil {
			return 0, nil, err
		}
		if err := validateVolumeSize(req.Size); err != nil {
			return 0, nil, err
		}
		labels := copyLabels(req.Labels)
		if err := validateLabels(labels); err != nil {
			return 0, nil, err
		}
		if req.Format != nil && *req.Format != "ext4" && *req.Format != "xfs" {
			return 0, nil, errInvalid("format", "must be one of ext4, xfs")
		}
		var server *Server
		var loc *schema.Location
		switch {
		case req.Server != nil:
			if server = r.st.server(*req.Server); server == nil {
				return 0, nil, errNotFound("server", *req.Server)
			}
			loc = &server.Location
		case req.Location != nil:
			name := req.Location.Name
			for _, l := range locations {
				if l.ID == req.Location.ID {
					name = l.Name
				}
			}
			if loc = findLocation(name); loc == nil {
				return 0, nil, errInvalid("location", fmt.Sprintf("location '%s' not found", name))
			}
		default:
			return 0, nil, errInvalid("location", "location or server is required")
		}
		for _, v := range r.st.Volumes {
			if v.Name == req.Name {
				return 0, nil, errUnique("name", "volume with the same name already exists")
			}
		}
		id := r.st.nextID("volume")
		if err := e.createVolumeFile(id, req.Size, req.Format); err != nil {
			return 0, nil, err
		}
		v := &schema.Volume{ID: id, Name: req.Name, Status: "available", Location: *loc, Size: req.Size,
			Format: req.Format, Labels: labels, Created: r.now}
		v.LinuxDevice = fmt.Sprintf("/dev/disk/by-id/scsi-0HC_Volume_%d", v.ID)
		r.st.Volumes = append(r.st.Volumes, v)
		next := []schema.Action{}
		if server != nil {
			sid := server.ID
			v.Server = &sid
			next = append(next, e.newAction(r, "attach_volume", ref(v.ID), resRef{ID: sid, Type: "server"}))
		}
		a := e.newAction(r, "create_volume", ref(v.ID))
		return http.StatusCreated, schema.VolumeCreateResponse{Volume: *v, Action: &a, NextActions: next}, nil
	})
	e.handle("PUT /v1/volumes/{id}", func(r *request) (int, any, *apiError) {
		v, err := r.volume()
		if err != nil {
			return 0, nil, err
		}
		var req schema.VolumeUpdateRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		if req.Name != "" && req.Name != v.Name {
			for _, other := range r.st.Volumes {
				if other.Name == req.Name {
					return 0, nil, errUnique("name", "volume with the same name already exists")
				}
			}
			v.Name = req.Name
		}
		if req.Labels != nil {
			if err := validateLabels(*req.Labels); err != nil {
				return 0, nil, err
			}
			v.Labels = copyLabels(req.Labels)
		}
		return http.StatusOK, schema.VolumeUpdateResponse{Volume: *v}, nil
	})
	e.handle("DELETE /v1/volumes/{id}", func(r *request) (int, any, *apiError) {
		v, err := r.volume()
		if err != nil {
			return 0, nil, err
		}
		if v.Protection.Delete {
			return 0, nil, errProtected("volume", v.ID, "delete")
		}
		if v.Server != nil {
			return 0, nil, errCode(http.StatusConflict, "resource_in_use", "volume with ID '%d' is attached to server with ID '%d': detach it first", v.ID, *v.Server)
		}
		if err := e.removeVolumeFile(v.ID); err != nil {
			return 0, nil, err
		}
		for i, x := range r.st.Volumes {
			if x.ID == v.ID {
				r.st.Volumes = append(r.st.Volumes[:i], r.st.Volumes[i+1:]...)
				break
			}
		}
		return http.StatusNoContent, nil, nil
	})
	action := func(name string, do func(r *request, v *schema.Volume) ([]resRef, *apiError)) {
		e.handle("POST /v1/volumes/{id}/actions/"+name, func(r *request) (int, any, *apiError) {
			v, err := r.volume()
			if err != nil {
				return 0, nil, err
			}
			extra, err := do(r, v)
			if err != nil {
				return 0, nil, err
			}
			command := map[string]string{"attach": "attach_volume", "detach": "detach_volume", "resize": "resize_volume", "change_protection": "change_protection"}[name]
			return http.StatusCreated, map[string]any{"action": e.newAction(r, command, append([]resRef{ref(v.ID)}, extra...)...)}, nil
		})
	}
	action("attach", func(r *request, v *schema.Volume) ([]resRef, *apiError) {
		var req schema.VolumeActionAttachVolumeRequest
		if err := r.decode(&req); err != nil {
			return nil, err
		}
		s := r.st.server(req.Server)
		if s == nil {
			return nil, errNotFound("server", req.Server)
		}
		if v.Server != nil {
			return nil, errCode(http.StatusConflict, "volume_already_attached", "volume with ID '%d' is already attached to server with ID '%d', detach first", v.ID, *v.Server)
		}
		if s.Location.Name != v.Location.Name {
			return nil, errInvalid("server", fmt.Sprintf("server is in %s, the volume in %s", s.Location.Name, v.Location.Name))
		}
		sid := s.ID
		v.Server = &sid
		return []resRef{{ID: sid, Type: "server"}}, nil
	})
	action("detach", func(r *request, v *schema.Volume) ([]resRef, *apiError) {
		if v.Server == nil {
			return nil, errCode(http.StatusConflict, "invalid_input", "volume with ID '%d' is not attached", v.ID)
		}
		sid := *v.Server
		v.Server = nil
		return []resRef{{ID: sid, Type: "server"}}, nil
	})
	action("resize", func(r *request, v *schema.Volume) ([]resRef, *apiError) {
		var req schema.VolumeActionResizeVolumeRequest
		if err := r.decode(&req); err != nil {
			return nil, err
		}
		if err := validateVolumeSize(req.Size); err != nil {
			return nil, err
		}
		if req.Size < v.Size {
			return nil, errInvalid("size", "a volume can only grow")
		}
		if err := e.growVolumeFile(v.ID, req.Size); err != nil {
			return nil, err
		}
		v.Size = req.Size
		return nil, nil
	})
	action("change_protection", func(r *request, v *schema.Volume) ([]resRef, *apiError) {
		var req schema.VolumeActionChangeProtectionRequest
		if err := r.decode(&req); err != nil {
			return nil, err
		}
		if req.Delete != nil {
			v.Protection.Delete = *req.Delete
		}
		return nil, nil
	})
}

func (r *request) volume() (*schema.Volume, *apiError) {
	id, err := r.id("id")
	if err != nil {
		return nil, err
	}
	v := r.st.volume(id)
	if v == nil {
		return nil, errNotFound("volume", id)
	}
	return v, nil
}
