package main

// Volumes are real block devices (volumefiles.go): a sparse file of the volume's size per volume, formatted when
// asked, grown by resize, removed with the volume, kept across a restart; and machine.sh is told which files
// are attached to which server (the loop devices themselves are proven on real machines by
// tests/real/hetzner-apply.sh).

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

func volumePath(f *fixture, id int64) string {
	return filepath.Join(f.state+".volumes", "volume-"+strconv.FormatInt(id, 10)+".img")
}

func wantFile(t *testing.T, path string, sizeGB int64) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("volume file: %v", err)
	}
	if st.Size() != sizeGB*gib {
		t.Fatalf("%s is %d bytes, want %d GB", path, st.Size(), sizeGB)
	}
	// Sparse: a new volume takes (almost) no space on the host.
	if blocks := st.Sys().(*syscall.Stat_t).Blocks * 512; blocks > 64<<20 {
		t.Fatalf("%s uses %d bytes on disk: not sparse", path, blocks)
	}
}

func TestVolumeFiles(t *testing.T) {
	f := start(t, 3600)
	s := f.createServer(f.serverOpts("s1"))
	v := must[hcloud.VolumeCreateResult](t)(f.c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "data", Size: 10, Server: s})).Volume
	path := volumePath(f, v.ID)
	wantFile(t, path, 10)
	if v.LinuxDevice != "/dev/disk/by-id/scsi-0HC_Volume_"+strconv.FormatInt(v.ID, 10) {
		t.Fatalf("linux_device %q", v.LinuxDevice)
	}

	// Resize grows the device (the file), never shrinks; a refused resize leaves it alone.
	_, _, err := f.c.Volume.Resize(ctx, v, 5)
	wantCode(t, err, hcloud.ErrorCodeInvalidInput)
	must[*hcloud.Action](t)(f.c.Volume.Resize(ctx, v, 25))
	wantFile(t, path, 25)

	// Attached: delete is refused and the file stays.
	_, err = f.c.Volume.Delete(ctx, v)
	wantCode(t, err, hcloud.ErrorCodeResourceInUse)
	wantFile(t, path, 25)

	// A restart on the state file finds the volume and its file.
	f.server.Close()
	f = startAt(t, f.state, 3600)
	got := must[*hcloud.Volume](t)(f.c.Volume.GetByID(ctx, v.ID))
	if got == nil || got.Size != 25 || got.Server == nil || got.Server.ID != s.ID {
		t.Fatalf("after restart: %+v", got)
	}
	wantFile(t, path, 25)

	must[*hcloud.Action](t)(f.c.Volume.Detach(ctx, v))
	if _, err := f.c.Volume.Delete(ctx, v); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the file of a deleted volume is still there: %v", err)
	}
}

// A volume created with format ext4 holds an ext4 filesystem (Hetzner formats it before handing it over).
func TestVolumeFormat(t *testing.T) {
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("no mkfs.ext4 on this machine")
	}
	f := start(t, 3600)
	v := must[hcloud.VolumeCreateResult](t)(f.c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "fmt", Size: 10, Location: &hcloud.Location{Name: "fsn1"}, Format: hcloud.Ptr("ext4")})).Volume
	fh, err := os.Open(volumePath(f, v.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	magic := make([]byte, 2)
	if _, err := fh.ReadAt(magic, 1024+0x38); err != nil { // the superblock starts at 1024; s_magic at 0x38
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint16(magic) != 0xEF53 {
		t.Fatalf("no ext4 superblock in the volume's file (magic %x)", magic)
	}
}

// machine.sh is told the attached volumes' files: on attach, on detach (empty again), and when a server is
// deleted with a volume attached (Hetzner detaches it; the volume stays).
func TestMachineHookVolumes(t *testing.T) {
	dir := t.TempDir()
	record := filepath.Join(dir, "calls")
	hook := filepath.Join(dir, "machine.sh")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\n{ echo \"ARGS $*\"; cat; echo; } >>"+record+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f2 := start(t, 3600)
	f2.e.machines = newMachines(hook)
	f2.e.machines.volumeFile = f2.e.volumeFile
	s := f2.createServer(f2.serverOpts("m1"))
	v := must[hcloud.VolumeCreateResult](t)(f2.c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "data", Size: 10, Location: &hcloud.Location{Name: "fsn1"}})).Volume
	must[*hcloud.Action](t)(f2.c.Volume.Attach(ctx, v, s))
	must[*hcloud.Action](t)(f2.c.Volume.Detach(ctx, v))
	must[*hcloud.Action](t)(f2.c.Volume.Attach(ctx, v, s))
	if _, _, err := f2.c.Server.DeleteWithResult(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := must[*hcloud.Volume](t)(f2.c.Volume.GetByID(ctx, v.ID)); got == nil || got.Server != nil {
		t.Fatalf("after the server's delete the volume should be there, detached: %+v", got)
	}
	wantFile(t, volumePath(f2, v.ID), 10)
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	var specs []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "{") {
			specs = append(specs, l)
		}
	}
	file := filepath.Join(f2.state+".volumes", "volume-"+strconv.FormatInt(v.ID, 10)+".img")
	if !strings.HasSuffix(strings.TrimSpace(string(b)), "ARGS remove "+strconv.FormatInt(s.ID, 10)) {
		t.Fatalf("the last hook call should remove the deleted server's machine:\n%s", b)
	}
	if len(specs) != 4 || !strings.Contains(specs[3], `"file":"`+file+`"`) || !strings.Contains(specs[0], `"volumes":[]`) || !strings.Contains(specs[1], `"volumes":[{"id":`+strconv.FormatInt(v.ID, 10)+`,"file":"`+file+`"}]`) || !strings.Contains(specs[2], `"volumes":[]`) {
		t.Fatalf("hook specs (want: no volume, the volume's file, none again):\n%s", strings.Join(specs, "\n"))
	}
}
