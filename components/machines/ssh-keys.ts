// SSH keys as code: the public half of the deploy key, so the node step that writes authorized_keys
// (components/files/swarm/authorized-keys.sh) can refuse a key list that would lock Pulumi out.
import * as pulumi from "@pulumi/pulumi";
import { utils } from "ssh2";

/** "type base64" of an OpenSSH private key; a clear error names the config key when it is not one. */
export function publicKeyOf(privateKey: string): string {
  const parsed = utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    throw new Error(`mbio-cloud:sshPrivateKey is not an OpenSSH private key (${key instanceof Error ? key.message : "no key found"}): set it with pulumi config set --secret mbio-cloud:sshPrivateKey < ~/.ssh/<key>`);
  }
  return `${key.type} ${key.getPublicSSH().toString("base64")}`;
}

/** The deploy key's public half: derived from a secret, but not itself secret. */
export function deployPublicKey(privateKey: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.unsecret(pulumi.output(privateKey).apply(publicKeyOf));
}
