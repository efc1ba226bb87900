// GeneratedSecret: a random value made once by the program and kept as a Pulumi secret, for secrets that
// nobody has to type (today Portainer's agent secret). Random, so nothing in state or config lets anyone
// derive it; generated in create() only, so it is stable across updates and changes only on a replace
// (`pulumi up --replace <urn>`: a rotation).
//
// Why a dynamic resource: @pulumi/random is not a dependency and its plugin is not available offline here
// (the same reason as SshHostKey in host-keys.ts); a value generated on every run would change on
// every preview; a config secret the operator sets would be one more manual step per environment.
import * as pulumi from "@pulumi/pulumi";

interface GeneratedSecretInputs {
  /** Random bytes; the value is their hex, twice as many characters. */
  bytes: number;
}

export const generatedSecretProvider: pulumi.dynamic.ResourceProvider<GeneratedSecretInputs, GeneratedSecretInputs & { value: string }> = {
  async create(inputs) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const crypto = require("crypto") as typeof import("crypto");
    return { id: crypto.randomUUID(), outs: { bytes: inputs.bytes, value: crypto.randomBytes(inputs.bytes).toString("hex") } };
  },
  // Another length is a new value; nothing else changes it.
  async diff(_id, olds, news) {
    const changed = olds.bytes !== news.bytes;
    return { changes: changed, replaces: changed ? ["bytes"] : [], deleteBeforeReplace: false };
  },
};

/** A random hex string, generated once; `value` is a secret output. */
export class GeneratedSecret extends pulumi.dynamic.Resource {
  declare readonly value: pulumi.Output<string>;

  constructor(name: string, args: { bytes?: number } = {}, opts?: pulumi.CustomResourceOptions) {
    super(generatedSecretProvider, name, { bytes: args.bytes ?? 32, value: undefined }, { ...opts, additionalSecretOutputs: ["value"] }, "mbio", "GeneratedSecret");
  }
}
