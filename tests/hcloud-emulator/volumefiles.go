package main

// Volumes as real block devices: each volume is a sparse file of its size under -volume-dir
// (volume-<id>.img), which machine.sh turns into a loop device inside the machine of the server it is attached
// to, at /dev/disk/by-id/scsi-0HC_Volume_<id> as a Hetzner guest sees it. The emulator owns the file (created
// with the volume, grown by resize, formatted when the create request asks for a format, removed with the
// volume); machine.sh owns the loop device and the device node. Files live beside the state file, so a
// restarted emulator finds them again.

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
)

const gib = int64(1) << 30

// volumeFile is where volume ID keeps its bytes; "" when the emulator runs without a volume directory.
func (e *Emulator) volumeFile(id int64) string {
	if e.volumeDir == "" {
		return ""
	}
	return filepath.Join(e.volumeDir, fmt.Sprintf("volume-%d.img", id))
}

func fileError(op string, err error) *apiError {
	return errCode(http.StatusInternalServerError, "server_error", "volume file: %s: %v", op, err)
}

// createVolumeFile makes the sparse file of a new volume (no blocks used until written) and formats it when
// the request asked Hetzner to (ext4 or xfs, with the host's mkfs).
func (e *Emulator) createVolumeFile(id int64, sizeGB int, format *string) *apiError {
	path := e.volumeFile(id)
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(e.volumeDir, 0o700); err != nil {
		return fileError("mkdir", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fileError("create", err)
	}
	err = f.Truncate(int64(sizeGB) * gib)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && format != nil {
		// -F: a regular file, not a block device; the file is new, so nothing is overwritten.
		args := map[string][]string{"ext4": {"mkfs.ext4", "-q", "-F", path}, "xfs": {"mkfs.xfs", "-q", path}}[*format]
		if out, ferr := exec.Command(args[0], args[1:]...).CombinedOutput(); ferr != nil {
			err = fmt.Errorf("%s: %v: %s", args[0], ferr, out)
		}
	}
	if err != nil {
		os.Remove(path)
		return fileError("create", err)
	}
	return nil
}

// growVolumeFile grows the file to the new size (Hetzner grows the device; the filesystem is the guest's to grow).
func (e *Emulator) growVolumeFile(id int64, sizeGB int) *apiError {
	path := e.volumeFile(id)
	if path == "" {
		return nil
	}
	if err := os.Truncate(path, int64(sizeGB)*gib); err != nil {
		return fileError("resize", err)
	}
	return nil
}

func (e *Emulator) removeVolumeFile(id int64) *apiError {
	path := e.volumeFile(id)
	if path == "" {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fileError("delete", err)
	}
	return nil
}
