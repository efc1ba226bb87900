# Samples every process's command line (/proc/<pid>/cmdline) until STOP_FILE exists or MAX_SECONDS passed,
# every INTERVAL seconds (0 = back to back), and writes each distinct command line once to OUT (arguments
# joined by spaces) and the number of sweeps to OUT.sweeps. No subprocess: the sampler adds no command line
# of its own, and it runs the same on the Pulumi host and on a node (python3 is on every Debian server:
# cloud-init needs it). Used by tests/real/lib/secret-leak.sh (secret_argv_start / secret_argv_stop).
# Usage: python3 argv-sample.py OUT STOP_FILE MAX_SECONDS INTERVAL
import os
import sys
import time

out, stop, max_seconds, interval = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
seen = set()
sweeps = 0
deadline = time.monotonic() + max_seconds
while time.monotonic() < deadline and not os.path.exists(stop):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:  # os.open/read: a third of the cost of a file object, and sweeps are the point
            fd = os.open(f"/proc/{pid}/cmdline", os.O_RDONLY)
            try:
                cmdline = os.read(fd, 1 << 20)
            finally:
                os.close(fd)
        except OSError:
            continue  # the process ended between listdir and open
        if cmdline:
            seen.add(cmdline)
    sweeps += 1
    if interval > 0:
        time.sleep(interval)
with open(out, "wb") as f:
    for cmdline in sorted(seen):
        f.write(cmdline.rstrip(b"\0").replace(b"\0", b" ").replace(b"\n", b" ") + b"\n")
with open(out + ".sweeps", "w") as f:
    f.write(f"{sweeps}\n")
