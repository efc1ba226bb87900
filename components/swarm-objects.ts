// Swarm configs and secrets named by their content (service-conventions.ts contentName), created over SSH
// on a manager before the stack that mounts them. A new content is a new object, so the services using it
// roll; the old object is removed when Pulumi replaces it (removal fails quietly while a task still uses it).
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { createHmac } from "crypto";
import { remoteScript } from "./files";
import { contentName } from "./service-conventions";
import { firstManager, type ManagerConnections } from "./swarm-stack";

export interface SwarmObjectRef {
  /** The Swarm object's name (content-hashed). */
  name: pulumi.Output<string>;
  resource: command.remote.Command;
}

/**
 * The name of a Swarm secret: `<prefix>-<12 hex of HMAC-SHA256(key, value)>`. The name must change with the
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
      return `${prefix}-${createHmac("sha256", key).update(v).digest("hex").slice(0, 12)}`;
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
  const resource = swarmObjectCommand(parent, id, { connection: args.connection, kind: args.kind, name, content, label: args.label });
  return { name, resource };
}

/**
 * The remote command that creates the Swarm config or secret NAME with CONTENT (stdin, never a command line);
 * idempotent. For components that name their objects themselves; swarmObject names them for you.
 */
export function swarmObjectCommand(
  parent: pulumi.Resource,
  id: string,
  args: { connection: ManagerConnections; kind: "config" | "secret"; name: pulumi.Input<string>; content: pulumi.Input<string>; label: string },
): command.remote.Command {
  return new command.remote.Command(
    id,
    {
      // A remote command runs on one host: the first manager (objects change only with their content).
      connection: firstManager(args.connection),
      create: remoteScript("swarm/swarm-object.sh", { KIND: args.kind, NAME: args.name, LABEL: args.label }),
      // Removing fails while a service still uses the object; the replacement stack has moved on by then.
      delete: pulumi.interpolate`docker ${args.kind} rm ${args.name} >/dev/null 2>&1 || true`,
      stdin: args.content,
      triggers: [args.name],
    },
    { parent, deleteBeforeReplace: false },
  );
}
