// Swarm configs and secrets as resources of the Docker provider (components/swarm-docker.ts): refresh reads
// them (a config's content and labels, a secret's existence), and any reachable manager serves a change.
// Each is named by its content (configs: contentName; secrets: secretObjectName, keyed), so a new content is
// a new object: Pulumi creates it before the stack that mounts it is updated (the services roll) and deletes
// the old one afterwards (deleteBeforeReplace false), when no service uses it any more.
// Migration from the remote commands that made them before: the names' hash is 16 hex digits now (was 12),
// so the first `pulumi up` creates every object anew under a new name, each service rolls once onto it, and
// the commands' deletes remove the old objects (docs/architecture.md).
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { createHmac } from "crypto";
import { contentName } from "./service-conventions";
import { firstManager, type ManagerConnections } from "./swarm-stack";
import { swarmDockerProvider } from "./swarm-docker";

export type SwarmObjectResource = docker.ServiceConfig | docker.Secret;

export interface SwarmObjectRef {
  /** The Swarm object's name (content-hashed). */
  name: pulumi.Output<string>;
  resource: SwarmObjectResource;
}

/**
 * The name of a Swarm secret: `<prefix>-<16 hex of HMAC-SHA256(key, value)>`. The name must change with the
 * value (so the services roll), must not change between runs (no churn), and must say nothing about the value
 * although it sits in plain state and in `docker secret ls`. An unkeyed hash fails the last point (a weak
 * password can be guessed offline from it); so the key is a per-stack secret: derived from the stack's SSH
 * deploy key (mbio-cloud:sshPrivateKey, a Pulumi secret that every component creating Swarm secrets already
 * holds in its manager connection). Without that key, the name cannot be tested against a guess. Rotating the
 * deploy key renames every secret once (the services roll once).
 */
export function secretObjectName(prefix: string, connection: ManagerConnections, value: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.unsecret(
    pulumi.all([firstManager(connection), pulumi.secret(value)]).apply(([c, v]) => {
      const privateKey = c?.privateKey;
      if (!privateKey) throw new Error(`naming the Swarm secret ${prefix}: the manager connection carries no SSH private key (mbio-cloud:sshPrivateKey)`);
      const key = createHmac("sha256", "mbio-cloud swarm secret names").update(String(privateKey)).digest();
      return `${prefix}-${createHmac("sha256", key).update(v).digest("hex").slice(0, 16)}`;
    }),
  );
}

/** A Swarm config (plain content, named by its hash) or secret (secret content, named by secretObjectName). */
export function swarmObject(
  parent: pulumi.Resource,
  id: string,
  args: { connection: ManagerConnections; kind: "config" | "secret"; prefix: string; content: pulumi.Input<string>; label: string; environment: string },
): SwarmObjectRef {
  const content = args.kind === "secret" ? pulumi.secret(args.content) : pulumi.output(args.content);
  const name = args.kind === "secret" ? secretObjectName(args.prefix, args.connection, content) : content.apply((c) => contentName(args.prefix, c));
  const resource = swarmNamedObject(parent, id, { connection: args.connection, kind: args.kind, name, content, label: args.label, environment: args.environment });
  return { name, resource };
}

/**
 * The Swarm config or secret NAME with CONTENT, for components that name their objects themselves (with
 * contentName / secretObjectName); swarmObject names them for you. The content travels base64-encoded in the
 * Docker API call, a secret's as a Pulumi secret (state holds it encrypted; docs/security.md).
 */
export function swarmNamedObject(
  parent: pulumi.Resource,
  id: string,
  args: { connection: ManagerConnections; kind: "config" | "secret"; name: pulumi.Input<string>; content: pulumi.Input<string>; label: string; environment: string },
): SwarmObjectResource {
  const [labelKey, ...rest] = args.label.split("=");
  const labels = [{ label: labelKey, value: rest.join("=") }];
  // A new name is a new object; the old one goes after the stack moved on (create before delete).
  const opts: pulumi.CustomResourceOptions = { parent, provider: swarmDockerProvider(args.environment, args.connection), deleteBeforeReplace: false };
  if (args.kind === "secret") {
    const data = pulumi.secret(args.content).apply((c) => Buffer.from(c, "utf8").toString("base64"));
    return new docker.Secret(id, { name: args.name, data, labels }, { ...opts, additionalSecretOutputs: ["data"] });
  }
  const data = pulumi.output(args.content).apply((c) => Buffer.from(c, "utf8").toString("base64"));
  return new docker.ServiceConfig(id, { name: args.name, data, labels }, opts);
}
