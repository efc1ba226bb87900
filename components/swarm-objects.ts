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
 * A Swarm config (plain content) or secret (secret content) named `<prefix>-<hash>`. Secret names hash the
 * content keyed by the environment: a keyed hash of a secret says nothing about it.
 */
export function swarmObject(
  parent: pulumi.Resource,
  id: string,
  args: { connection: ManagerConnections; kind: "config" | "secret"; prefix: string; content: pulumi.Input<string>; label: string; environment: string },
): SwarmObjectRef {
  const content = args.kind === "secret" ? pulumi.secret(args.content) : pulumi.output(args.content);
  const name = pulumi.unsecret(
    content.apply((c) => (args.kind === "secret" ? `${args.prefix}-${createHmac("sha256", args.environment).update(c).digest("hex").slice(0, 12)}` : contentName(args.prefix, c))),
  );
  const resource = new command.remote.Command(
    id,
    {
      // A remote command runs on one host: the first manager (objects change only with their content).
      connection: firstManager(args.connection),
      create: remoteScript("backup/swarm-object.sh", { KIND: args.kind, NAME: name, LABEL: args.label }),
      delete: pulumi.interpolate`docker ${args.kind} rm ${name} >/dev/null 2>&1 || true`,
      stdin: content,
      triggers: [name],
    },
    { parent, deleteBeforeReplace: false },
  );
  return { name, resource };
}
