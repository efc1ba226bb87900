package main

// The read-only catalogue: locations, datacenters, server types and system images. A fixed subset of
// Hetzner's (the names the stacks use, plus an Arm type so architecture matching is exercised). IDs are
// the emulator's own; figures (cores, memory, disk) follow Hetzner's published sizes.

import (
	"net/http"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

var locations = []schema.Location{
	{ID: 1, Name: "fsn1", Description: "Falkenstein DC Park 1", Country: "DE", City: "Falkenstein", Latitude: 50.47612, Longitude: 12.370071, NetworkZone: "eu-central"},
	{ID: 2, Name: "nbg1", Description: "Nuremberg DC Park 1", Country: "DE", City: "Nuremberg", Latitude: 49.452102, Longitude: 11.076665, NetworkZone: "eu-central"},
	{ID: 3, Name: "hel1", Description: "Helsinki DC Park 1", Country: "FI", City: "Helsinki", Latitude: 60.169855, Longitude: 24.938379, NetworkZone: "eu-central"},
	{ID: 4, Name: "ash", Description: "Ashburn, VA", Country: "US", City: "Ashburn, VA", Latitude: 39.043757, Longitude: -77.487442, NetworkZone: "us-east"},
	{ID: 5, Name: "hil", Description: "Hillsboro, OR", Country: "US", City: "Hillsboro, OR", Latitude: 45.54222, Longitude: -122.951924, NetworkZone: "us-west"},
	{ID: 6, Name: "sin", Description: "Singapore", Country: "SG", City: "Singapore", Latitude: 1.283333, Longitude: 103.833333, NetworkZone: "ap-southeast"},
}

var networkZones = map[string]bool{"eu-central": true, "us-east": true, "us-west": true, "ap-southeast": true}

var serverTypes = []schema.ServerType{
	serverType(1, "cx22", "shared", 2, 4, 40, "x86"),
	serverType(2, "cx32", "shared", 4, 8, 80, "x86"),
	serverType(3, "cx42", "shared", 8, 16, 160, "x86"),
	serverType(4, "cx52", "shared", 16, 32, 320, "x86"),
	serverType(5, "cpx11", "shared", 2, 2, 40, "x86"),
	serverType(6, "cpx21", "shared", 3, 4, 80, "x86"),
	serverType(7, "cax11", "shared", 2, 4, 40, "arm"),
}

func serverType(id int64, name, cpu string, cores int, mem float32, disk int, arch string) schema.ServerType {
	st := schema.ServerType{
		ID: id, Name: name, Description: name, Category: "shared_vcpu", Cores: cores, Memory: mem, Disk: disk,
		StorageType: "local", CPUType: cpu, Architecture: arch, IncludedTraffic: 21990232555520,
		Prices: []schema.PricingServerTypePrice{},
	}
	for _, l := range locations {
		st.Locations = append(st.Locations, schema.ServerTypeLocation{ID: l.ID, Name: l.Name})
	}
	return st
}

func datacenters() []schema.Datacenter {
	out := []schema.Datacenter{}
	ids := []int64{}
	for _, st := range serverTypes {
		ids = append(ids, st.ID)
	}
	for _, l := range locations {
		dc := schema.Datacenter{ID: l.ID, Name: l.Name + "-dc1", Description: l.Description + " DC 1", Location: l,
			ServerTypes: &schema.DatacenterServerTypes{Supported: ids, Available: ids, AvailableForMigration: ids}}
		out = append(out, dc)
	}
	return out
}

var imageCreated = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func systemImage(id int64, name, flavor, version, arch string) schema.Image {
	return schema.Image{
		ID: id, Status: "available", Type: "system", Name: &name, Description: flavor + " " + version,
		DiskSize: 5, Created: &imageCreated, OSFlavor: flavor, OSVersion: &version, Architecture: arch,
		RapidDeploy: true, Labels: map[string]string{},
	}
}

var images = []schema.Image{
	systemImage(1, "debian-12", "debian", "12", "x86"),
	systemImage(2, "debian-12", "debian", "12", "arm"),
	systemImage(3, "debian-13", "debian", "13", "x86"),
	systemImage(4, "debian-13", "debian", "13", "arm"),
	systemImage(5, "ubuntu-24.04", "ubuntu", "24.04", "x86"),
	systemImage(6, "ubuntu-24.04", "ubuntu", "24.04", "arm"),
}

func findLocation(name string) *schema.Location {
	for i := range locations {
		if locations[i].Name == name {
			return &locations[i]
		}
	}
	return nil
}

func findServerType(ref schema.IDOrName) *schema.ServerType {
	for i := range serverTypes {
		if (ref.ID != 0 && serverTypes[i].ID == ref.ID) || (ref.Name != "" && serverTypes[i].Name == ref.Name) {
			return &serverTypes[i]
		}
	}
	return nil
}

// findImage resolves an image by ID, or by name for the given architecture (Hetzner keeps one image per
// name and architecture).
func findImage(ref schema.IDOrName, arch string) *schema.Image {
	for i := range images {
		if ref.ID != 0 && images[i].ID == ref.ID {
			return &images[i]
		}
		if ref.Name != "" && images[i].Name != nil && *images[i].Name == ref.Name && images[i].Architecture == arch {
			return &images[i]
		}
	}
	return nil
}

func (e *Emulator) registerCatalogue() {
	e.handle("GET /v1/locations", func(r *request) (int, any, *apiError) {
		items, err := filter(r, locations, func(l schema.Location) string { return l.Name }, func(schema.Location) map[string]string { return nil })
		if err != nil {
			return 0, nil, err
		}
		return page(r, "locations", items)
	})
	e.handle("GET /v1/locations/{id}", func(r *request) (int, any, *apiError) {
		id, err := r.id("id")
		if err != nil {
			return 0, nil, err
		}
		for _, l := range locations {
			if l.ID == id {
				return http.StatusOK, schema.LocationGetResponse{Location: l}, nil
			}
		}
		return 0, nil, errNotFound("location", id)
	})
	e.handle("GET /v1/datacenters", func(r *request) (int, any, *apiError) {
		items, err := filter(r, datacenters(), func(d schema.Datacenter) string { return d.Name }, func(schema.Datacenter) map[string]string { return nil })
		if err != nil {
			return 0, nil, err
		}
		return page(r, "datacenters", items)
	})
	e.handle("GET /v1/datacenters/{id}", func(r *request) (int, any, *apiError) {
		id, err := r.id("id")
		if err != nil {
			return 0, nil, err
		}
		for _, d := range datacenters() {
			if d.ID == id {
				return http.StatusOK, schema.DatacenterGetResponse{Datacenter: d}, nil
			}
		}
		return 0, nil, errNotFound("datacenter", id)
	})
	e.handle("GET /v1/server_types", func(r *request) (int, any, *apiError) {
		items, err := filter(r, serverTypes, func(s schema.ServerType) string { return s.Name }, func(schema.ServerType) map[string]string { return nil })
		if err != nil {
			return 0, nil, err
		}
		return page(r, "server_types", items)
	})
	e.handle("GET /v1/server_types/{id}", func(r *request) (int, any, *apiError) {
		id, err := r.id("id")
		if err != nil {
			return 0, nil, err
		}
		if st := findServerType(schema.IDOrName{ID: id}); st != nil {
			return http.StatusOK, schema.ServerTypeGetResponse{ServerType: *st}, nil
		}
		return 0, nil, errNotFound("server_type", id)
	})
	e.handle("GET /v1/images", func(r *request) (int, any, *apiError) {
		items, err := filter(r, images, func(i schema.Image) string { return *i.Name }, func(i schema.Image) map[string]string { return i.Labels })
		if err != nil {
			return 0, nil, err
		}
		q := r.URL.Query()
		out := []schema.Image{}
		for _, im := range items {
			if a := q["architecture"]; len(a) > 0 && !contains(a, im.Architecture) {
				continue
			}
			if t := q["type"]; len(t) > 0 && !contains(t, im.Type) {
				continue
			}
			out = append(out, im)
		}
		return page(r, "images", out)
	})
	e.handle("GET /v1/images/{id}", func(r *request) (int, any, *apiError) {
		id, err := r.id("id")
		if err != nil {
			return 0, nil, err
		}
		if im := findImage(schema.IDOrName{ID: id}, ""); im != nil {
			return http.StatusOK, schema.ImageGetResponse{Image: *im}, nil
		}
		return 0, nil, errNotFound("image", id)
	})
}
