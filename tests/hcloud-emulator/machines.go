package main

// Servers as real machines (docs/sandbox.md): with -machine-hook, every change of the state is followed by
// machine.sh, once per server whose machine must change (created, powered on or off, attached to a network,
// its firewall rules changed) and once per server or network that is gone. Without it servers are records
// only, which keeps the API tests fast. The hook runs while the request holds the state's lock, so the
// answer to a request leaves only once the machines match it.

import (
	"bytes"
	"encoding/json"
	"log"
	"net/netip"
	"os"
	"os/exec"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

type machines struct {
	hook string
	// What machine.sh was last told per server (the JSON without user-data) and which networks it made:
	// only differences are sent. Empty after a restart, so the first sync re-applies everything (idempotent).
	applied  map[int64]string
	networks map[int64]bool
	// volumeFile names a volume's file (Emulator.volumeFile): machine.sh loops it into the attached machine.
	volumeFile func(int64) string
}

func newMachines(hook string) *machines {
	if hook == "" {
		return nil
	}
	return &machines{hook: hook, applied: map[int64]string{}, networks: map[int64]bool{}}
}

type machineNetwork struct {
	ID      int64  `json:"id"`
	IP      string `json:"ip"`
	IPRange string `json:"ip_range"`
}

type machineVolume struct {
	ID   int64  `json:"id"`
	File string `json:"file"`
}

type machineSpec struct {
	ID         int64                 `json:"id"`
	Name       string                `json:"name"`
	Status     string                `json:"status"`
	PublicIPv4 string                `json:"public_ipv4"`
	SSHKeys    []string              `json:"ssh_keys"`
	Networks   []machineNetwork      `json:"networks"`
	Firewall   []schema.FirewallRule `json:"firewall"` // null: no firewall applied (everything passes)
	Volumes    []machineVolume       `json:"volumes"`  // attached volumes with a file, by id
	UserData   string                `json:"user_data,omitempty"`
}

func (m *machines) run(stdin []byte, args ...string) {
	cmd := exec.Command(m.hook, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Printf("machine hook %v failed: %v", args, err)
	}
}

func (st *State) machineSpec(s *Server, volumeFile func(int64) string) machineSpec {
	spec := machineSpec{ID: s.ID, Name: s.Name, Status: s.Status, PublicIPv4: s.PublicNet.IPv4.IP, SSHKeys: s.PublicKeys, Networks: []machineNetwork{}, Volumes: []machineVolume{}}
	if spec.SSHKeys == nil {
		spec.SSHKeys = []string{}
	}
	for _, pn := range s.PrivateNet {
		if n := st.network(pn.Network); n != nil {
			spec.Networks = append(spec.Networks, machineNetwork{ID: n.ID, IP: pn.IP, IPRange: netip.MustParsePrefix(n.IPRange).Masked().String()})
		}
	}
	// st.Volumes is in creation order, so by id: the order machine.sh hands out device names in.
	for _, v := range st.Volumes {
		if v.Server != nil && *v.Server == s.ID && volumeFile != nil && volumeFile(v.ID) != "" {
			spec.Volumes = append(spec.Volumes, machineVolume{ID: v.ID, File: volumeFile(v.ID)})
		}
	}
	for _, f := range st.Firewalls {
		for _, id := range st.serversOf(f) {
			if id == s.ID {
				if spec.Firewall == nil {
					spec.Firewall = []schema.FirewallRule{}
				}
				spec.Firewall = append(spec.Firewall, f.Rules...)
				break
			}
		}
	}
	return spec
}

// sync brings the machines in line with the state.
func (m *machines) sync(st *State) {
	if m == nil {
		return
	}
	seen := map[int64]bool{}
	for _, s := range st.Servers {
		seen[s.ID] = true
		spec := st.machineSpec(s, m.volumeFile)
		key, _ := json.Marshal(spec)
		if m.applied[s.ID] == string(key) {
			continue
		}
		spec.UserData = s.UserData
		body, _ := json.Marshal(spec)
		m.run(body, "apply")
		m.applied[s.ID] = string(key)
		for _, n := range spec.Networks {
			m.networks[n.ID] = true
		}
	}
	for id := range m.applied {
		if !seen[id] {
			m.run(nil, "remove", strconv.FormatInt(id, 10))
			delete(m.applied, id)
		}
	}
	for id := range m.networks {
		if st.network(id) == nil {
			m.run(nil, "network-remove", strconv.FormatInt(id, 10))
			delete(m.networks, id)
		}
	}
}

// rebootMachine restarts a server's machine; its firewall is set again by the next sync (a restarted
// container has a new network namespace).
func (e *Emulator) rebootMachine(id int64) {
	if e.machines == nil {
		return
	}
	e.machines.run(nil, "reboot", strconv.FormatInt(id, 10))
	delete(e.machines.applied, id)
}
