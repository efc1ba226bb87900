// What every swarm:* resource shares: its inputs carry the manager connections (deploy key included) as a
// secret, its outputs start unknown so the engine waits for the provider, and it is typed swarm:<Type>
// (the URNs the stacks already hold).
import * as pulumi from "@pulumi/pulumi";
import { ManagerConnection } from "./ssh";

export abstract class SwarmResource extends pulumi.dynamic.Resource {
  constructor(
    provider: pulumi.dynamic.ResourceProvider,
    type: string,
    name: string,
    inputs: { connections: pulumi.Input<ManagerConnection[]> },
    /** Outputs only the provider sets. */
    outputs: string[],
    opts: pulumi.CustomResourceOptions | undefined,
    /** Outputs besides `connections` that state must keep encrypted. */
    secretOutputs: string[] = [],
  ) {
    super(
      provider,
      name,
      { ...inputs, connections: pulumi.secret(inputs.connections), ...Object.fromEntries(outputs.map((o) => [o, undefined])) },
      { ...opts, additionalSecretOutputs: ["connections", ...secretOutputs] },
      "swarm",
      type,
    );
  }
}

/** A provider's diff result without the diff's own extras; `deleteBeforeReplace` only when the diff decided it. */
export function diffResult(d: pulumi.dynamic.DiffResult): pulumi.dynamic.DiffResult {
  const { changes, replaces, deleteBeforeReplace } = d;
  return deleteBeforeReplace === undefined ? { changes, replaces } : { changes, replaces, deleteBeforeReplace };
}
