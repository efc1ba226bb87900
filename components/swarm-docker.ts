// The Docker provider (@pulumi/docker, plugin 5.1.0: docs/toolchain.md) that owns the Swarm's configs and
// secrets. One per stack. It reaches "a manager", not manager-1: its host is the alias mbio-swarm-managers
// and ssh's ProxyCommand (files/swarm/docker-ssh-proxy.sh) connects to the first manager on which
// `docker node ls` works, so a stopped manager blocks neither a change nor a refresh.
//
// What ssh gets (the provider passes sshOpts to the ssh binary as arguments, upstream
// terraform-provider-docker internal/provider/config.go → docker/cli connhelper): only file paths. The
// files are written by this program into ~/.cache/mbio-cloud/docker-ssh/<project>-<stack>/:
//   key          the deploy key (mbio-cloud:sshPrivateKey), 0600, never on a command line
//   known_hosts  the pinned host keys (SshHostKey outputs) under each manager's address, for the probes,
//                and under mbio-swarm-managers, for the session itself: StrictHostKeyChecking=yes
//   managers     "host port" per manager, in order: scaling the managers changes a file, not the provider
// The paths in sshOpts start with ~ (ssh expands it), so the provider's configuration is the same on every
// machine and in every checkout; `pulumi refresh` without --run-program on a machine that never ran the
// program fails saying to run `pulumi refresh --run-program` (MISSING_SSH_FILES) rather than reading nothing.
// Changing sshOpts updates the provider in place (no docker_* resource is replaced: pulumi-docker marks no
// provider property ForcesProviderReplace, terraform-bridge v3.133.0 configDiffer).
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { chmodSync, mkdirSync, writeFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import { scriptFile } from "./files";
import { knownHostsLine } from "./dynamic-providers/host-keys";
import { PLUGIN_VERSIONS } from "./providers";
import { managerConnections, type ManagerConnections } from "./swarm-stack";

/** The host name ssh checks the managers' keys under (the proxy decides which manager it is). */
export const MANAGERS_ALIAS = "mbio-swarm-managers";

/** The per-stack directory, as ssh sees it (~) and as this process writes it. */
// MBIO_DOCKER_SSH_HOME moves only where this process writes (the unit tests' mocks write into a scratch
// directory, not into the developer's home); ssh still reads ~.
export function dockerSshDir(project = pulumi.getProject(), stack = pulumi.getStack()): { forSsh: string; local: string } {
  const rel = path.posix.join(".cache", "mbio-cloud", "docker-ssh", `${project}-${stack}`);
  return { forSsh: `~/${rel}`, local: path.join(process.env.MBIO_DOCKER_SSH_HOME || os.homedir(), rel) };
}

/** What to run on a machine where the program never wrote DIR (a bare `pulumi refresh` there fails with it); no ' (it sits in a '…' word). */
export const MISSING_SSH_FILES =
  "the SSH files of the Docker provider are written by the program and this machine has none: run pulumi refresh --run-program (or pulumi preview) on it first (docs/operations.md)";

/**
 * ssh's arguments: every credential and pin is a file in DIR. The ProxyCommand checks that the proxy script is
 * there before running it: a `pulumi refresh` (which does not run the program) on a machine that never ran it
 * fails saying what to run instead of "No such file or directory" (tests/real/swarm-drift.sh).
 */
export function dockerSshOpts(dir: string): string[] {
  const proxy = `[ -r "$0/docker-ssh-proxy.sh" ] || { echo "docker-ssh-proxy: $0: ${MISSING_SSH_FILES}" >&2; exit 2; }; exec bash "$0/docker-ssh-proxy.sh" "$0"`;
  return [
    "-o", `ProxyCommand=bash -c '${proxy}' ${dir}`,
    "-o", `UserKnownHostsFile=${dir}/known_hosts`,
    "-o", "StrictHostKeyChecking=yes",
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-i", `${dir}/key`,
  ];
}

function writeDockerSshFiles(dir: string, managers: { host: string; port?: number; privateKey?: string; hostKey?: string }[]): void {
  if (managers.length === 0) throw new Error("the Docker provider needs at least one Swarm manager");
  const key = managers[0].privateKey;
  if (!key) throw new Error("the Docker provider needs the deploy key (mbio-cloud:sshPrivateKey) in the manager connection");
  const missing = managers.filter((m) => !m.hostKey).map((m) => m.host);
  if (missing.length) throw new Error(`the Docker provider pins host keys; no host key for manager(s) ${missing.join(", ")}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const write = (name: string, text: string, mode: number) => {
    writeFileSync(path.join(dir, name), text, { mode });
    chmodSync(path.join(dir, name), mode);
  };
  write("key", key.endsWith("\n") ? key : `${key}\n`, 0o600);
  const lines = managers.flatMap((m) => [knownHostsLine(m.host, m.port ?? 22, String(m.hostKey)), `${MANAGERS_ALIAS} ${m.hostKey}`]);
  write("known_hosts", `${lines.join("\n")}\n`, 0o600);
  write("managers", managers.map((m) => `${m.host} ${m.port ?? 22}\n`).join(""), 0o600);
  write("docker-ssh-proxy.sh", scriptFile("swarm/docker-ssh-proxy.sh"), 0o700);
}

const providers = new WeakMap<object, docker.Provider>();

/**
 * The stack's Docker provider, `<environment>-swarm-docker`, for these managers: every component is given the same
 * connections object (Environment passes the cluster's), so they share one provider; a second object in
 * the same program would be a second provider of that name, which Pulumi refuses (duplicate URN).
 * Its configuration waits for the files above, so the first operation finds them.
 */
export function swarmDockerProvider(environment: string, connection: ManagerConnections): docker.Provider {
  const key = connection as object;
  const known = providers.get(key);
  if (known) return known;
  const dir = dockerSshDir();
  const sshOpts = pulumi.unsecret(
    pulumi.secret(managerConnections(connection)).apply((ms) => {
      writeDockerSshFiles(dir.local, ms);
      return dockerSshOpts(dir.forSsh);
    }),
  );
  const provider = new docker.Provider(`${environment}-swarm-docker`, { host: `ssh://root@${MANAGERS_ALIAS}`, sshOpts }, { version: PLUGIN_VERSIONS.docker });
  providers.set(key, provider);
  return provider;
}
