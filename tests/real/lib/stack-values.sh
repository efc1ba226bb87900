# shellcheck shell=bash
# What the committed stack files leave to their operator, as test values of the right shape, for real `pulumi`
# runs of a copy of the project in a throwaway backend (tests/real/preview.sh, tests/real/image-signatures.sh).
# Run it in the project directory with the stack selected:
#   stack_test_values KEYFILE HCLOUD_TOKEN DIGEST CLOUDFLARE
# KEYFILE: a throwaway OpenSSH private key (the program derives its public half); DIGEST: the test digest of
# the images no pipeline pinned; CLOUDFLARE=skipped: dns.provider none (the cloudflare plugin is not there).
stack_test_values() {
  local keyfile="$1" token="$2" digest="$3" cloudflare="$4" k ref
  printf '%s' "$token" | pulumi config set --secret hcloud:token >/dev/null
  pulumi config set --secret mbio-cloud:sshPrivateKey <"$keyfile" >/dev/null
  for k in backupS3AccessKeyId backupS3SecretAccessKey resticPassword raftResticPassword registryPassword influxdbAdminPassword influxdbWriterPassword influxdbReaderPassword grafanaAdminPassword; do
    printf 'dummy-%s' "$k" | pulumi config set --secret "mbio-cloud:$k" >/dev/null
  done
  pulumi config set --path 'mbio-cloud:images.backup-agent' "registry.gitlab.com/mbio/mbio-cloud/backup-agent:1.0.0@sha256:$digest" >/dev/null
  for ref in influxdb=influxdb:1.11.8 telegraf=telegraf:1.39.3 grafana=grafana/grafana:12.3.1; do
    pulumi config set --path "mbio-cloud:images.${ref%%=*}" "${ref#*=}@sha256:$digest" >/dev/null
  done
  # The GitLab runner: the operator's group id, the admin token and the runner image pin (test values).
  pulumi config set --path 'mbio-cloud:images.gitlab-runner' "gitlab/gitlab-runner:v0.0.0-test@sha256:$digest" >/dev/null
  pulumi config set --path 'mbio-cloud:gitlab.groupId' 4242 >/dev/null
  printf 'glpat-dummy-admin-token-000000' | pulumi config set --secret mbio-cloud:gitlabToken >/dev/null
  # The edge's secrets and what the stack files leave to the operator (tests/unit/support/harness.ts does the same).
  printf 'dummy-adminPassword' | pulumi config set --secret mbio-cloud:adminPassword >/dev/null
  printf '%s' "$(printf 'c%.0s' $(seq 1 40))" | pulumi config set --secret mbio-cloud:cloudflareApiToken >/dev/null
  pulumi config set --path 'mbio-cloud:dns.zoneId' 0123456789abcdef0123456789abcdef >/dev/null
  pulumi config set --path 'mbio-cloud:images.portainer' "portainer/portainer-ce:2.33.6@sha256:$digest" >/dev/null
  pulumi config set --path 'mbio-cloud:images.portainer-agent' "portainer/agent:2.33.6@sha256:$digest" >/dev/null
  pulumi config set --path 'mbio-cloud:storage.hetznerCsi.pluginImage' "hetznercloud/hcloud-csi-driver:v0.0.0-swarm@sha256:$digest" >/dev/null
  if [ "$cloudflare" = skipped ]; then
    pulumi config set --path 'mbio-cloud:dns.provider' none >/dev/null
    pulumi config rm --path 'mbio-cloud:dns.zoneId' >/dev/null
    pulumi config rm --path 'mbio-cloud:dns.proxied' >/dev/null 2>&1 || true
  fi
}
