#!/usr/bin/env bash
# A Hetzner volume for one of the platform's stateful named volumes (storage.driver hetzner-volumes,
# components/persistent-storage.ts), on the node it is attached to. Run over SSH by Pulumi:
#   ACTION=mount    waits for the attached volume's disk (/dev/disk/by-id/scsi-0HC_Volume_<VOLUME_ID>), formats
#                   it ext4 only if it holds no filesystem and no other signature (never reformats: a volume
#                   brought back keeps its data), mounts it at MOUNT_DIR, creates MOUNT_DIR/data (what the
#                   service's named volume binds; absent while nothing is mounted, so a task cannot write onto
#                   the root disk instead) and keeps the mount in /etc/fstab (nofail: a missing volume does not
#                   stop the boot).
#   ACTION=unmount  before the volume is detached: unmounts, removes the fstab line. Nothing if not mounted. A
#                   mount still in use (a task of a node that leaves while its service runs there) is not forced:
#                   the error says to drain the node first, so nothing is detached under a writer.
# A mount whose disk is gone (the volume detached and attached again under another name) is released and mounted
# again; the script does not run by itself after a re-attach (docs/storage.md).
# Run twice, the second run changes nothing. Prints what it did on stderr.
set -euo pipefail
: "${ACTION:?mount or unmount}" "${VOLUME_ID:?the Hetzner volume id}" "${MOUNT_DIR:?where to mount it}"
case "$VOLUME_ID" in '' | *[!0-9]*) echo "VOLUME_ID must be a number, got '$VOLUME_ID'" >&2; exit 2 ;; esac
case "$MOUNT_DIR" in /mnt/?*) ;; *) echo "MOUNT_DIR must be below /mnt, got '$MOUNT_DIR'" >&2; exit 2 ;; esac
dev="/dev/disk/by-id/scsi-0HC_Volume_$VOLUME_ID"
say() { echo "hetzner-volume-mount: $*" >&2; }

# The fstab line of this mount point, replaced in one rename (never a half-written fstab).
set_fstab() {
  local line="$1" tmp
  tmp="$(mktemp /etc/fstab.XXXXXX)"
  awk -v dir="$MOUNT_DIR" '$2 != dir' /etc/fstab >"$tmp"
  [ -z "$line" ] || echo "$line" >>"$tmp"
  if cmp -s "$tmp" /etc/fstab; then rm -f "$tmp"; return 0; fi
  chmod 644 "$tmp"
  mv "$tmp" /etc/fstab
  say "fstab: ${line:-removed the line of $MOUNT_DIR}"
}

if [ "$ACTION" = unmount ]; then
  if mountpoint -q "$MOUNT_DIR"; then
    if ! umount "$MOUNT_DIR"; then
      echo "volume $VOLUME_ID at $MOUNT_DIR is in use (a running task mounts it): drain this node first (on a manager: docker node update --availability drain $(hostname)), then run pulumi up again" >&2
      exit 1
    fi
    say "unmounted $MOUNT_DIR"
  fi
  set_fstab ""
  exit 0
fi
[ "$ACTION" = mount ] || { echo "ACTION must be mount or unmount, got '$ACTION'" >&2; exit 2; }

# The attach action has finished in the API before this runs, but the disk may take a moment to show up.
for _ in $(seq 1 60); do
  [ -b "$dev" ] && break
  sleep 1
done
[ -b "$dev" ] || { echo "volume $VOLUME_ID is not attached to this server: no $dev after 60 s" >&2; exit 1; }

# -p: probe the device itself, not blkid's cache. Exit 2 means nothing was found on it.
if fstype="$(blkid -p -o value -s TYPE "$dev")"; then
  [ "$fstype" = ext4 ] || { echo "volume $VOLUME_ID holds a $fstype filesystem, not ext4: left alone (mount it by hand or move the data)" >&2; exit 1; }
else
  rc=$?
  [ "$rc" = 2 ] || { echo "blkid could not read $dev (exit $rc)" >&2; exit 1; }
  # Nothing blkid knows; wipefs lists any other signature (a partition table, RAID member...). Only a blank
  # volume is formatted.
  if [ -n "$(wipefs -n -p "$dev" | grep -v '^#' || true)" ]; then
    echo "volume $VOLUME_ID has signatures but no filesystem blkid knows: not formatting it" >&2
    exit 1
  fi
  mkfs.ext4 -q -L "hc-vol-$VOLUME_ID" "$dev"
  say "formatted volume $VOLUME_ID (ext4)"
fi

mkdir -p "$MOUNT_DIR"
if mountpoint -q "$MOUNT_DIR"; then
  src="$(findmnt -n -o SOURCE --mountpoint "$MOUNT_DIR")"
  if [ -b "$src" ] && [ "$(stat -L -c %t:%T "$src")" = "$(stat -L -c %t:%T "$dev")" ]; then
    : # this volume, mounted already
  elif [[ "$src" == /dev/* ]] && [ ! -e "$src" ]; then
    # Mounted from a disk that is gone: the volume was detached (by hand) and attached again, under a new name.
    # The old mount only returns I/O errors; it is released so the volume is mounted again.
    umount -l "$MOUNT_DIR"
    say "released the stale mount of $src (volume $VOLUME_ID attached again)"
  else
    echo "$MOUNT_DIR holds $src, not volume $VOLUME_ID ($(readlink -f "$dev")): left alone" >&2
    exit 1
  fi
fi
if ! mountpoint -q "$MOUNT_DIR"; then
  mount -o discard,defaults "$dev" "$MOUNT_DIR"
  say "mounted volume $VOLUME_ID at $MOUNT_DIR"
fi
mkdir -p "$MOUNT_DIR/data"
set_fstab "$dev $MOUNT_DIR ext4 discard,nofail,defaults 0 0"
