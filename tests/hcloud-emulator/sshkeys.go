package main

// SSH keys: name and fingerprint (MD5 of the public key, as Hetzner shows it) are each unique per project.

import (
	"net/http"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
	"golang.org/x/crypto/ssh"
)

func (st *State) sshKey(id int64) *schema.SSHKey {
	for _, k := range st.SSHKeys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

func requireName(name string) *apiError {
	if strings.TrimSpace(name) == "" {
		return errInvalid("name", "is missing")
	}
	if len(name) > 128 {
		return errInvalid("name", "is too long")
	}
	return nil
}

func (e *Emulator) registerSSHKeys() {
	e.handle("GET /v1/ssh_keys", func(r *request) (int, any, *apiError) {
		items, err := filter(r, r.st.SSHKeys, func(k *schema.SSHKey) string { return k.Name }, func(k *schema.SSHKey) map[string]string { return k.Labels })
		if err != nil {
			return 0, nil, err
		}
		out := []schema.SSHKey{}
		for _, k := range items {
			if fp := r.URL.Query().Get("fingerprint"); fp != "" && k.Fingerprint != fp {
				continue
			}
			out = append(out, *k)
		}
		sortByQuery(r, out, func(k schema.SSHKey) int64 { return k.ID }, func(k schema.SSHKey) string { return k.Name })
		return page(r, "ssh_keys", out)
	})
	e.handle("GET /v1/ssh_keys/{id}", func(r *request) (int, any, *apiError) {
		id, err := r.id("id")
		if err != nil {
			return 0, nil, err
		}
		k := r.st.sshKey(id)
		if k == nil {
			return 0, nil, errNotFound("ssh_key", id)
		}
		return http.StatusOK, schema.SSHKeyGetResponse{SSHKey: *k}, nil
	})
	e.handle("POST /v1/ssh_keys", func(r *request) (int, any, *apiError) {
		var req schema.SSHKeyCreateRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		if err := requireName(req.Name); err != nil {
			return 0, nil, err
		}
		pub, _, _, _, perr := ssh.ParseAuthorizedKey([]byte(req.PublicKey))
		if perr != nil {
			return 0, nil, errInvalid("public_key", "is not a valid public SSH key")
		}
		labels := copyLabels(req.Labels)
		if err := validateLabels(labels); err != nil {
			return 0, nil, err
		}
		fp := ssh.FingerprintLegacyMD5(pub)
		for _, k := range r.st.SSHKeys {
			if k.Name == req.Name {
				return 0, nil, errUnique("name", "SSH key with the same name already exists")
			}
			if k.Fingerprint == fp {
				return 0, nil, errUnique("public_key", "SSH key with the same fingerprint already exists")
			}
		}
		k := &schema.SSHKey{ID: r.st.nextID("ssh_key"), Name: req.Name, Fingerprint: fp, PublicKey: strings.TrimSpace(req.PublicKey), Labels: labels, Created: r.now}
		r.st.SSHKeys = append(r.st.SSHKeys, k)
		return http.StatusCreated, schema.SSHKeyCreateResponse{SSHKey: *k}, nil
	})
	e.handle("PUT /v1/ssh_keys/{id}", func(r *request) (int, any, *apiError) {
		id, err := r.id("id")
		if err != nil {
			return 0, nil, err
		}
		k := r.st.sshKey(id)
		if k == nil {
			return 0, nil, errNotFound("ssh_key", id)
		}
		var req schema.SSHKeyUpdateRequest
		if err := r.decode(&req); err != nil {
			return 0, nil, err
		}
		if req.Name != "" && req.Name != k.Name {
			for _, other := range r.st.SSHKeys {
				if other.Name == req.Name {
					return 0, nil, errUnique("name", "SSH key with the same name already exists")
				}
			}
		}
		if req.Labels != nil {
			if err := validateLabels(*req.Labels); err != nil {
				return 0, nil, err
			}
			k.Labels = copyLabels(req.Labels)
		}
		if req.Name != "" {
			k.Name = req.Name
		}
		return http.StatusOK, schema.SSHKeyUpdateResponse{SSHKey: *k}, nil
	})
	e.handle("DELETE /v1/ssh_keys/{id}", func(r *request) (int, any, *apiError) {
		id, err := r.id("id")
		if err != nil {
			return 0, nil, err
		}
		for i, k := range r.st.SSHKeys {
			if k.ID == id {
				r.st.SSHKeys = append(r.st.SSHKeys[:i], r.st.SSHKeys[i+1:]...)
				return http.StatusNoContent, nil, nil
			}
		}
		return 0, nil, errNotFound("ssh_key", id)
	})
}
