#!/usr/bin/env bash
# Real-tool audit of the node hardening (the Hetzner cloud-init path on the second machine too): two machines of the sandbox's machine image (systemd, sshd, Debian
# 12, as a Hetzner server looks to the bootstrap) on a network of their own, so the sandbox singleton and its
# lock are not needed. harden.sh and firewall.sh run twice over SSH exactly as the bootstrap runs them (the
# second run must change nothing), then:
#   ssh-audit (Debian 2.5.0) from the host      no failures, at most SSH_AUDIT_MAX_WARN warnings
#   lynis audit system (Debian 3.0.8) inside    hardening index >= LYNIS_MIN, with SECURITY_LYNIS=1 (the nightly
#                                                run: tests/nightly/security-audit-lynis.sh)
#   fail2ban                                     is-active and its sshd jail loaded
#   unattended-upgrades                          apt periodic settings on
#   host firewall                                SSH only from the admin CIDR, Swarm ports from the
#                                                private network, web ports dropped on a non-edge node
# HARDEN_SCRIPT=<file> audits another harden.sh (docs/security.md's "before" figures use main's).
# Prints the figures and ends with "security-audit: N passed, M failed". Removes what it created.
set -uo pipefail
# shellcheck source=sandbox/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../sandbox/lib.sh"
FILES="$MBIO_ROOT/components/files"
HARDEN_SCRIPT="${HARDEN_SCRIPT:-$FILES/cloud-init/harden.sh}"
SSH_AUDIT_MAX_WARN="${SSH_AUDIT_MAX_WARN:-0}"
LYNIS_MIN="${LYNIS_MIN:-80}"
PREFIX="mbio-security-audit"
NET="$PREFIX"
SUBNET_PREFIX="${SECURITY_AUDIT_SUBNET_PREFIX:-172.31.250}"
GW="$SUBNET_PREFIX.1" M1="$SUBNET_PREFIX.11" M2="$SUBNET_PREFIX.12"
out="$(mktemp -d)"

TEST_NAME=security-audit
# shellcheck source=tests/real/lib/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/check.sh"
cleanup() {
  docker rm -f -v "$PREFIX-1" "$PREFIX-2" >/dev/null 2>&1
  docker network rm "$NET" >/dev/null 2>&1
  rm -rf "$out"
}
trap cleanup EXIT
finish() {
  echo "security-audit: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

ensure_apt_packages ssh-audit >/dev/null || { echo "ssh-audit could not be installed"; failed=$((failed + 1)); finish; }
image="$(sandbox_machine_image)"
if [ -z "$image" ]; then
  echo "security-audit: no sandbox machine image; run bash sandbox/up.sh once (it builds $MACHINE_REPO)"
  failed=$((failed + 1))
  finish
fi

start=$SECONDS
cleanup
mkdir -p "$out"
ssh-keygen -q -t ed25519 -N '' -C security-audit -f "$out/key"
docker network create --subnet "$SUBNET_PREFIX.0/24" --gateway "$GW" "$NET" >/dev/null
for i in 1 2; do docker_run_machine "$PREFIX-$i" "$image" --network "$NET" --ip "$SUBNET_PREFIX.1$i" -v /var/lib/docker; done
for i in 1 2; do
  machine_booted "$PREFIX-$i" || { failed=$((failed + 1)); finish; }
  docker exec -i "$PREFIX-$i" bash -c 'install -d -m 700 /root/.ssh && cat >/root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys' <"$out/key.pub"
done
SSH=(ssh -i "$out/key" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5)
on() { local ip="$1"; shift; "${SSH[@]}" "root@$ip" "$@"; }
WAIT_EVERY=1 wait_for "sshd on $M1" 30 on "$M1" true || { failed=$((failed + 1)); finish; }
echo "security-audit: machines $M1 $M2 from $image up ($((SECONDS - start))s)"

# The Hetzner path on the second machine, meanwhile: the rendered user-data (render.sh) through cloud-init's
# NoCloud source, as a new server boots it; harden.sh then runs over SSH as the bootstrap's next step.
bash "$FILES/cloud-init/render.sh" >"$out/user-data"
docker exec "$PREFIX-2" mkdir -p /var/lib/cloud/seed/nocloud
docker cp -q "$out/user-data" "$PREFIX-2:/var/lib/cloud/seed/nocloud/user-data"
printf '%s\n' "instance-id: $PREFIX-2-$$" "local-hostname: $PREFIX-2" "public-keys:" "  - $(cat "$out/key.pub")" |
  docker exec -i "$PREFIX-2" tee /var/lib/cloud/seed/nocloud/meta-data >/dev/null
cloud_init_background "$PREFIX-2"

# As the bootstrap runs them: environment assignments, then the script on bash's stdin.
FW_ENV="PRIVATE_CIDR=$SUBNET_PREFIX.0/24 ADMIN_CIDRS='$GW/32' MANAGER=true EDGE=false"
for pass in 1 2; do
  t=$SECONDS
  on "$M1" "bash -s" <"$HARDEN_SCRIPT" >"$out/harden-$pass.out" 2>&1
  echo "harden rc=$?" >>"$out/harden-$pass.out"
  on "$M1" "$FW_ENV bash -s" <"$FILES/cloud-init/firewall.sh" >"$out/firewall-$pass.out" 2>&1
  echo "firewall rc=$?" >>"$out/firewall-$pass.out"
  echo "security-audit: pass $pass: $(grep -h 'done,' "$out/harden-$pass.out" "$out/firewall-$pass.out" | xargs) ($((SECONDS - t))s)"
done
check "harden.sh: first run succeeds" grep -q "harden rc=0" "$out/harden-1.out"
check "harden.sh: second run succeeds and changes nothing" grep -q "done, 0 change(s)" "$out/harden-2.out"
check "firewall.sh: first run succeeds" grep -q "firewall rc=0" "$out/firewall-1.out"
check "firewall.sh: second run changes nothing" grep -q "done, 0 change(s)" "$out/firewall-2.out"
grep -q "harden rc=0" "$out/harden-1.out" || tail -20 "$out/harden-1.out"
grep -q "done, 0 change(s)" "$out/harden-2.out" || grep changed "$out/harden-2.out"

echo "security-audit: cloud-init path on $M2"
docker exec "$PREFIX-2" bash -c 'for _ in $(seq 1 300); do [ -e /etc/cloud/cloud-init.disabled ] && exit 0; sleep 1; done; exit 1'
check "cloud-init: the rendered user-data ran harden.sh to the end" docker exec "$PREFIX-2" grep -q "harden: done" /var/log/mbio-sandbox-cloud-init.log /var/log/cloud-init-output.log
on "$M2" "bash -s" <"$HARDEN_SCRIPT" >"$out/harden-m2.out" 2>&1
check "cloud-init: harden.sh over SSH afterwards changes nothing" grep -q "done, 0 change(s)" "$out/harden-m2.out"
grep -q "done, 0 change(s)" "$out/harden-m2.out" || grep -E "changed|error" "$out/harden-m2.out" | head

echo "security-audit: ssh-audit $M1"
ssh-audit --no-colors --timeout=10 "$M1" >"$out/ssh-audit.txt" 2>&1
# One line per finding in the algorithm sections (kex, key, enc, mac); recommendations are not findings.
findings() { grep -E '^\((kex|key|enc|mac)\)' "$out/ssh-audit.txt" | grep -c -- "$1" || true; }
ssh_fail=$(findings '\[fail\]')
# kex-strict-s-v00 is OpenSSH's Terrapin countermeasure (CVE-2023-48795), newer than ssh-audit 2.5.0, which
# calls it "unknown algorithm": it is counted apart, not as a weakness.
ssh_warn_all=$(findings '\[warn\]')
ssh_terrapin=$(grep -Ec '^\(kex\) kex-strict-s-v00@openssh.com +-- \[warn\] unknown algorithm' "$out/ssh-audit.txt" || true)
ssh_warn=$((ssh_warn_all - ssh_terrapin))
grep -E '^\((kex|key|enc|mac)\).*\[(fail|warn)\]' "$out/ssh-audit.txt" | sed 's/^/    /'
echo "security-audit: ssh-audit failures=$ssh_fail warnings=$ssh_warn (plus $ssh_terrapin for the Terrapin countermeasure ssh-audit 2.5.0 does not know)"
check "ssh-audit: banner read (sshd answered)" grep -q '^(gen) banner: SSH-2.0-OpenSSH' "$out/ssh-audit.txt"
check "ssh-audit: no failures ($ssh_fail)" test "$ssh_fail" = 0
check "ssh-audit: at most $SSH_AUDIT_MAX_WARN warnings ($ssh_warn)" test "$ssh_warn" -le "$SSH_AUDIT_MAX_WARN"
check "sshd: the platform still logs in after hardening" on "$M1" true

check "fail2ban: active (not merely enabled)" on "$M1" systemctl is-active --quiet fail2ban
check "fail2ban: sshd jail loaded on the systemd backend" on "$M1" "fail2ban-client status sshd >/dev/null && python3 -c 'import systemd.journal'"
check "unattended-upgrades: daily security upgrades configured" test "$(on "$M1" "apt-config dump APT::Periodic::Unattended-Upgrade APT::Periodic::Update-Package-Lists" | grep -c '"1"')" = 2
check "unattended-upgrades: security origin enabled" on "$M1" "grep -q 'label=Debian-Security' /etc/apt/apt.conf.d/50unattended-upgrades"

echo "security-audit: host firewall ($M2 is on the private network, not an admin address)"
# A dropped port times out; an accepted port with nothing listening is refused at once.
probe() { on "$M2" "timeout 4 bash -c '</dev/$1/$M1/$2' 2>&1; echo rc=\$?"; }
check "firewall: SSH from the admin address accepted" on "$M1" true
check "firewall: SSH from a non-admin address dropped" grep -q 'rc=124' <<<"$(probe tcp 22)"
check "firewall: Swarm 2377/tcp from the private network accepted (manager)" grep -q 'refused' <<<"$(probe tcp 2377)"
check "firewall: Swarm 7946/tcp from the private network accepted" grep -q 'refused' <<<"$(probe tcp 7946)"
check "firewall: 443/tcp dropped on a non-edge node" grep -q 'rc=124' <<<"$(probe tcp 443)"
check "firewall: Docker's own tables left in place" on "$M1" "nft list tables | grep -q 'ip filter' || ! systemctl is-active --quiet docker"

if [ "${SECURITY_LYNIS:-0}" != 1 ]; then
  echo "security-audit: lynis runs nightly (tests/nightly/security-audit-lynis.sh; SECURITY_LYNIS=1 runs it here)"
else
  deb="$MBIO_CACHE/debs/lynis_3.0.8-1.1_all.deb"
  if [ ! -s "$deb" ]; then
    mkdir -p "$(dirname "$deb")"
    (cd "$(dirname "$deb")" && apt-get download lynis=3.0.8-1.1 >/dev/null 2>&1)
  fi
  docker cp -q "$deb" "$PREFIX-1:/tmp/lynis.deb"
  docker exec "$PREFIX-1" bash -c 'dpkg -i /tmp/lynis.deb >/dev/null 2>&1'
  docker cp -q "$(dirname "${BASH_SOURCE[0]}")/security-audit.prf" "$PREFIX-1:/etc/lynis/custom.prf"
  t=$SECONDS
  docker exec "$PREFIX-1" lynis audit system --quick --no-colors >"$out/lynis.txt" 2>&1
  lynis_s=$((SECONDS - t))
  docker exec "$PREFIX-1" cat /var/log/lynis-report.dat >"$out/lynis-report.dat"
  index=$(sed -n 's/^hardening_index=//p' "$out/lynis-report.dat")
  tests=$(sed -n 's/^lynis_tests_done=//p' "$out/lynis-report.dat")
  echo "security-audit: lynis suggestions still open:"
  sed -n 's/^suggestion\[\]=//p' "$out/lynis-report.dat" | awk -F'|' '{printf "    %s %s %s\n", $1, $2, $4}'
  echo "security-audit: lynis details of the open SSH and sysctl findings:"
  sed -n 's/^details\[\]=\(SSH-7408\|KRNL-6000\)/\1/p' "$out/lynis-report.dat" | sed 's/^/    /'
  echo "security-audit: lynis hardening index=${index:-none} tests=${tests:-?} (${lynis_s}s)"
  check "lynis: hardening index ${index:-none} >= $LYNIS_MIN" test "${index:-0}" -ge "$LYNIS_MIN"
fi
echo "security-audit: took $((SECONDS - start))s"
finish
