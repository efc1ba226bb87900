// What every swarm:* resource shares: its inputs carry the manager connections (deploy key included) as a
// secret, its outputs start unknown so the engine waits for the provider, it is typed swarm:<Type> (the URNs
// the stacks already hold), and it carries the providers' revision.
//
// Why a revision: a dynamic provider's code is serialized into each resource's state (`__provider`), and
// read, delete and a replaced resource's delete run THAT code, not the program's. A fix to read or delete
// therefore reaches an existing resource only once the resource is updated. Raising PROVIDER_REVISION makes
// every diff report `providerRevision`, so the next `pulumi up` updates each resource (every update here is
// idempotent: a redeploy, a re-apply, a re-read) and stores the new code; docs/architecture.md says when.
import * as pulumi from "@pulumi/pulumi";
import { ManagerConnection } from "./ssh";

/**
 * Raise by one when a change to the providers' read or delete (or to the SSH client they share) must reach
 * resources that already exist. History: 1 = UpdateStatus-aware deploy, cluster-ID read, loud deletes;
 * 2 = a membership's read of a node removed by hand reports it gone (it failed on `docker node inspect`'s output).
 */
export const PROVIDER_REVISION = 2;

/** The input every provider here carries; absent in states written before it (revision 0). */
export interface Revisioned {
  providerRevision?: number;
}

/** `["providerRevision"]` when the state's provider code is older than the program's. */
export function revisionChanged(olds: Revisioned, news: Revisioned): string[] {
  return (olds.providerRevision ?? 0) === (news.providerRevision ?? 0) ? [] : ["providerRevision"];
}

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
      { ...inputs, connections: pulumi.secret(inputs.connections), providerRevision: PROVIDER_REVISION, ...Object.fromEntries(outputs.map((o) => [o, undefined])) },
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
