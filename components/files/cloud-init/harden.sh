#!/usr/bin/env bash
# Hardens a Debian server: key-only SSH with only modern algorithms (ssh-audit clean), no root password,
# fail2ban on sshd (systemd backend, really running), unattended security upgrades, time sync, and the lynis
# findings that apply to a Swarm node (login.defs, kernel and network sysctls, unused kernel modules, core
# dumps, banners, file permissions, audit tools); docs/security.md lists the ones that do not apply and why. Runs from cloud-init on first boot (Hetzner, sandbox) and again over SSH from the bootstrap on
# every machine source; each step checks before it changes, so a second run reports only "unchanged".
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
changed=0

say() { printf 'harden: %s\n' "$*"; }

# Writes $2 to file $1 only when it differs; returns 0 when it changed the file.
put_file() {
  local path="$1" content="$2"
  if [ -f "$path" ] && [ "$(cat "$path")" = "$content" ]; then
    say "unchanged $path"
    return 1
  fi
  mkdir -p "$(dirname "$path")"
  printf '%s\n' "$content" >"$path.mbio-new"
  mv "$path.mbio-new" "$path"
  say "changed $path"
  changed=$((changed + 1))
  return 0
}

missing=()
# Written before the packages are installed: needrestart lists daemons on old libraries after unattended upgrades (DEB-0831) but never restarts one
# itself: restarting dockerd would stop every task on the node outside a drained maintenance.
put_file /etc/needrestart/conf.d/mbio.conf "# Managed by mbio-cloud (harden.sh): list only.
\$nrconf{restart} = 'l';" || true

# python3-systemd: fail2ban's systemd backend needs it (without it the sshd jail fails silently).
for pkg in openssh-server fail2ban python3-systemd unattended-upgrades apt-listchanges needrestart libpam-tmpdir libpam-pwquality debsums apt-show-versions acct sysstat; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  changed=$((changed + 1))
else
  say "unchanged packages"
fi

[ -s /etc/ssh/ssh_host_ed25519_key ] || { ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key; say "changed ed25519 host key created"; changed=$((changed + 1)); }
# Only the ed25519 host key and algorithms ssh-audit rates good (no NIST curves, no SHA-1, no
# encrypt-and-MAC); every client the platform uses (Pulumi's Go SSH, ssh2, OpenSSH) speaks them.
# The first value of a keyword wins in sshd, and Debian includes sshd_config.d/*.conf first.
if put_file /etc/ssh/sshd_config.d/10-mbio-hardening.conf "# Managed by mbio-cloud (harden.sh): key-only SSH, modern algorithms.
HostKey /etc/ssh/ssh_host_ed25519_key
HostKeyAlgorithms ssh-ed25519,ssh-ed25519-cert-v01@openssh.com
KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org
Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PermitEmptyPasswords no
MaxAuthTries 3
MaxSessions 2
LogLevel VERBOSE
X11Forwarding no
AllowAgentForwarding no
AllowTcpForwarding no
Compression no
TCPKeepAlive no
ClientAliveInterval 300
ClientAliveCountMax 2"; then
  sshd -t
  systemctl reload ssh 2>/dev/null || systemctl reload sshd 2>/dev/null || say "sshd reload deferred (no systemd)"
fi

if passwd -S root | awk '{exit ($2 == "L") ? 0 : 1}'; then
  say "unchanged root password (locked)"
else
  passwd -l root >/dev/null
  say "changed root password locked"
  changed=$((changed + 1))
fi

# Both files first, then at most one restart: a second restart while fail2ban is still starting finds no socket to
# stop it through, and systemd then waits its 90 s stop timeout before killing it (measured: 93 of a first boot's
# 95 s of runcmd on the sandbox; tests/real/bootstrap.sh times the first boot).
f2b_changed=0
put_file /etc/fail2ban/jail.d/10-mbio-sshd.local "# Managed by mbio-cloud (harden.sh).
[sshd]
enabled = true
backend = systemd
maxretry = 5
findtime = 10m
bantime = 1h" && f2b_changed=1
# lynis (DEB-0880) looks for a jail.local; ours only holds the defaults, the sshd jail is in jail.d.
put_file /etc/fail2ban/jail.local "# Managed by mbio-cloud (harden.sh): jails live in jail.d/.
[DEFAULT]
banaction = nftables-multiport" && f2b_changed=1
# Running, not merely enabled: an enabled fail2ban whose jail failed to start protects nothing. "Running" is the
# server answering on its socket, so that nothing restarts it half-started (see above).
f2b_ready() { systemctl is-active --quiet fail2ban 2>/dev/null && fail2ban-client ping >/dev/null 2>&1; }
if [ "$f2b_changed" = 0 ] && f2b_ready && systemctl is-enabled --quiet fail2ban 2>/dev/null; then
  say "unchanged fail2ban active"
else
  systemctl enable fail2ban >/dev/null 2>&1 || true
  # A fail2ban the package just started may still be starting: let it answer before restarting it.
  for _ in $(seq 1 20); do ! systemctl is-active --quiet fail2ban 2>/dev/null || f2b_ready && break; sleep 0.5; done
  systemctl restart fail2ban >/dev/null 2>&1 || true
  changed=$((changed + 1))
  for _ in $(seq 1 40); do f2b_ready && break; sleep 0.5; done
  f2b_ready || { journalctl -u fail2ban -n 20 --no-pager >&2 || true; say "error: fail2ban is not running"; exit 1; }
  say "changed fail2ban started"
fi

put_file /etc/apt/apt.conf.d/20auto-upgrades "// Managed by mbio-cloud (harden.sh): daily security upgrades.
APT::Periodic::Update-Package-Lists \"1\";
APT::Periodic::Unattended-Upgrade \"1\";
APT::Periodic::AutocleanInterval \"7\";" || true

# Time sync: systemd-timesyncd where the host may set the clock; containers (the sandbox) cannot.
if [ "$(timedatectl show -p NTP --value 2>/dev/null || echo unknown)" = "yes" ]; then
  say "unchanged time sync"
elif timedatectl set-ntp true 2>/dev/null; then
  say "changed time sync enabled"
  changed=$((changed + 1))
else
  say "time sync not available here (container or no timesyncd)"
fi

# ---- lynis findings that apply to a Swarm node -----------------------------------------------------
# Sets KEY VALUE in /etc/login.defs (AUTH-9230, AUTH-9286, AUTH-9328).
login_def() {
  if [ "$(grep -Ec "^$1[[:space:]]" /etc/login.defs)" = 1 ] && grep -Eq "^$1[[:space:]]+$2\$" /etc/login.defs; then return 0; fi
  sed -i -E "/^$1[[:space:]]/d" /etc/login.defs
  printf '%s\t%s\n' "$1" "$2" >>/etc/login.defs
  say "changed /etc/login.defs $1 $2"
  changed=$((changed + 1))
}
login_def UMASK 027
login_def PASS_MAX_DAYS 365
login_def PASS_MIN_DAYS 1
login_def SHA_CRYPT_MIN_ROUNDS 65536
login_def SHA_CRYPT_MAX_ROUNDS 65536

# Kernel modules a cloud server never needs (USB-1000, STRG-1846, NETW-3200).
put_file /etc/modprobe.d/mbio-hardening.conf "# Managed by mbio-cloud (harden.sh): modules a Swarm node never loads.
install usb-storage /bin/false
install firewire-core /bin/false
blacklist dccp
install dccp /bin/true
blacklist sctp
install sctp /bin/true
blacklist rds
install rds /bin/true
blacklist tipc
install tipc /bin/true" || true

# Core dumps can hold secrets (KRNL-5820).
put_file /etc/security/limits.d/mbio-hardening.conf "# Managed by mbio-cloud (harden.sh): no core dumps.
* hard core 0" || true

# KRNL-6000. Not set, because a Swarm node needs them: ip_forward/forwarding (container routing),
# rp_filter strict (overlay and ingress traffic arrives asymmetrically), kernel.modules_disabled (Docker
# loads overlay, br_netfilter, vxlan on demand).
sysctls="# Managed by mbio-cloud (harden.sh).
dev.tty.ldisc_autoload = 0
fs.protected_fifos = 2
fs.protected_regular = 2
fs.protected_symlinks = 1
fs.suid_dumpable = 0
kernel.core_uses_pid = 1
kernel.ctrl-alt-del = 0
kernel.dmesg_restrict = 1
kernel.kptr_restrict = 2
kernel.perf_event_paranoid = 3
kernel.sysrq = 0
kernel.unprivileged_bpf_disabled = 1
kernel.yama.ptrace_scope = 1
net.core.bpf_jit_harden = 2
net.ipv4.conf.all.accept_redirects = 0
net.ipv4.conf.all.log_martians = 1
net.ipv4.conf.all.send_redirects = 0
net.ipv4.conf.default.accept_redirects = 0
net.ipv4.conf.default.accept_source_route = 0
net.ipv4.conf.default.log_martians = 1
net.ipv6.conf.all.accept_redirects = 0
net.ipv6.conf.default.accept_redirects = 0"
if put_file /etc/sysctl.d/90-mbio-hardening.conf "$sysctls" || [ "$(sysctl -n kernel.sysrq 2>/dev/null || echo 0)" != 0 ]; then
  # A container (the sandbox) has a read-only /proc/sys: the file is in place for a VM, nothing applies here.
  if systemd-detect-virt --container --quiet 2>/dev/null; then
    say "kernel settings written, not applied (container: /proc/sys is the host's)"
  else
    sysctl -q -p /etc/sysctl.d/90-mbio-hardening.conf >/dev/null 2>&1 || say "some kernel settings are not supported by this kernel"
  fi
fi

# Legal banners (BANN-7126, BANN-7130).
banner="Authorised access only. Activity on this system is logged and monitored."
put_file /etc/issue "$banner" || true
put_file /etc/issue.net "$banner" || true

# Cron and sshd configuration readable by root only (FILE-7524).
for f in /etc/crontab:600 /etc/cron.d:700 /etc/cron.daily:700 /etc/cron.hourly:700 /etc/cron.weekly:700 /etc/cron.monthly:700 /etc/ssh/sshd_config:600; do
  path="${f%%:*}" mode="${f##*:}"
  [ -e "$path" ] || continue
  if [ "$(stat -c %a "$path")" != "$mode" ]; then
    chmod "$mode" "$path"
    say "changed $path mode $mode"
    changed=$((changed + 1))
  fi
done

# Compilers usable by root only (HRDN-7222): binutils comes with needrestart; a node builds nothing.
for b in /usr/bin/as /usr/bin/gcc /usr/bin/cc /usr/bin/g++ /usr/bin/c++; do
  [ -e "$b" ] || continue
  real="$(readlink -f "$b")"
  if [ "$(stat -c %a "$real")" != 750 ]; then
    chmod 750 "$real"
    say "changed $real mode 750"
    changed=$((changed + 1))
  fi
done

# Process accounting and system statistics (ACCT-9622, ACCT-9626).
if grep -q '^ENABLED="true"' /etc/default/sysstat 2>/dev/null; then
  say "unchanged sysstat"
elif [ -f /etc/default/sysstat ]; then
  sed -i 's/^ENABLED=.*/ENABLED="true"/' /etc/default/sysstat
  systemctl restart sysstat >/dev/null 2>&1 || true
  say "changed sysstat enabled"
  changed=$((changed + 1))
fi

say "done, $changed change(s)"
