package main

// The emulator's state: every resource the API holds, kept as Hetzner's own wire types
// (hcloud-go's schema package) plus the few internal fields the API does not show. The whole state is
// rewritten to one JSON file after every change, so a test can stop the emulator and start it again.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// Server is a server as stored: relations kept elsewhere (firewalls, volumes, networks' server lists,
// the placement group) are filled in when the server is rendered.
type Server struct {
	schema.Server
	UserData         string `json:"emulator_user_data"`
	PlacementGroupID int64  `json:"emulator_placement_group"`
	DatacenterID     int64  `json:"emulator_datacenter"`
	// The public keys of the SSH keys the server was created with: Hetzner copies them into the server's
	// metadata at creation, so deleting a key later does not change the server.
	PublicKeys []string `json:"emulator_public_keys"`
}

// Action is an action as stored: it runs until FinishAt, then reports success.
type Action struct {
	schema.Action
	FinishAt time.Time `json:"emulator_finish_at"`
}

type State struct {
	NextID          map[string]int64         `json:"next_id"`
	SSHKeys         []*schema.SSHKey         `json:"ssh_keys"`
	Networks        []*schema.Network        `json:"networks"`
	Firewalls       []*schema.Firewall       `json:"firewalls"`
	PlacementGroups []*schema.PlacementGroup `json:"placement_groups"`
	Servers         []*Server                `json:"servers"`
	Volumes         []*schema.Volume         `json:"volumes"`
	Actions         []*Action                `json:"actions"`
	// NextIPv4 is the host number of the next public IPv4 handed out (within -public-ipv4).
	NextIPv4 int64 `json:"next_ipv4"`
}

type Store struct {
	mu    sync.Mutex
	path  string
	state *State
}

func newState() *State {
	return &State{NextID: map[string]int64{}}
}

func openStore(path string) (*Store, error) {
	s := &Store{path: path, state: newState()}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, s.saveLocked()
	case err != nil:
		return nil, err
	}
	if err := json.Unmarshal(data, s.state); err != nil {
		return nil, fmt.Errorf("state file %s is not the emulator's JSON: %w", path, err)
	}
	if s.state.NextID == nil {
		s.state.NextID = map[string]int64{}
	}
	return s, nil
}

// saveLocked writes the state atomically (temporary file + rename); the caller holds mu.
func (s *Store) saveLocked() error {
	data, err := json.MarshalIndent(s.state, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".hcloud-emulator-state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// The state holds user-data (secrets for the servers): owner-only, like the token file.
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

// nextID hands out IDs per resource kind, starting at 1 like a fresh Hetzner project would not (real IDs
// are large); only uniqueness within a kind matters to clients.
func (st *State) nextID(kind string) int64 {
	st.NextID[kind]++
	return st.NextID[kind]
}
