#!/usr/bin/env bash
# Hardens a Debian server: key-only SSH, no root password, fail2ban on sshd, unattended security upgrades,
# time sync. Runs from cloud-init on first boot (Hetzner, sandbox) and again over SSH from the bootstrap on
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
for pkg in openssh-server fail2ban unattended-upgrades; do
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

if put_file /etc/ssh/sshd_config.d/10-mbio-hardening.conf "# Managed by mbio-cloud (harden.sh): key-only SSH.
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PermitEmptyPasswords no
MaxAuthTries 3
X11Forwarding no
AllowAgentForwarding no"; then
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

if put_file /etc/fail2ban/jail.d/10-mbio-sshd.local "# Managed by mbio-cloud (harden.sh).
[sshd]
enabled = true
backend = systemd
maxretry = 5
findtime = 10m
bantime = 1h"; then
  systemctl restart fail2ban 2>/dev/null || say "fail2ban restart deferred"
fi
if systemctl is-enabled --quiet fail2ban 2>/dev/null; then
  say "unchanged fail2ban enabled"
else
  systemctl enable --now fail2ban >/dev/null 2>&1 || say "fail2ban could not start here"
  changed=$((changed + 1))
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

say "done, $changed change(s)"
