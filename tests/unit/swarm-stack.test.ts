import * as pulumi from "@pulumi/pulumi";
import { asSecret } from "./support/harness";
import { ComposeFile, withEndpointMode } from "../../components/swarm-stack";
import { canonicalJson } from "../../components/dynamic-providers/text";

describe("SwarmStack", () => {
  const compose: ComposeFile = {
    version: "3.9",
    services: {
      web: { image: "x:1@sha256:" + "a".repeat(64), deploy: { replicas: 2 } },
      pinned: { image: "y:1@sha256:" + "b".repeat(64), deploy: { endpoint_mode: "vip" } },
    },
  };

  test("canonical JSON does not depend on key order, so an unchanged stack never shows drift", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe(canonicalJson({ a: { c: null, d: [2, { y: 2, z: 1 }] }, b: 1 }));
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: 2 }));
  });

  test("the cluster's endpoint mode reaches every service that did not choose one", () => {
    const out = withEndpointMode(compose, "dnsrr");
    expect(out.services.web.deploy).toEqual({ endpoint_mode: "dnsrr", replicas: 2 });
    expect(out.services.pinned.deploy).toEqual({ endpoint_mode: "vip" });
    expect(withEndpointMode(compose, undefined)).toBe(compose);
  });

  test("deploys through the Swarm provider with the document as a secret-capable input and every manager", async () => {
    const made: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
    pulumi.runtime.setMocks({ newResource: (a) => (made.push(a), { id: `${a.name}-id`, state: { ...a.inputs, stdout: "" } }), call: (a) => a.inputs }, "p", "s", false);
    const { SwarmStack } = await import("../../components/swarm-stack");
    const stack = new SwarmStack("staging-web", { connection: [{ host: "192.0.2.1" }, { host: "192.0.2.2", port: 2222, user: "ops" }], stackName: "web", compose, endpointMode: "dnsrr" });
    const digest = await new Promise<string>((r) => stack.digest.apply(r));
    await new Promise((r) => setTimeout(r, 50));
    const deploy = made.find((m) => m.type === "pulumi-nodejs:dynamic/swarm:Stack")!;
    expect(deploy.name).toBe("staging-web-deploy");
    expect(deploy.inputs).toMatchObject({ stackName: "web", digest, timeout: 300 });
    expect(JSON.parse(String(deploy.inputs.document)).services.web.deploy.endpoint_mode).toBe("dnsrr");
    // The connections carry the private key: secret in state.
    expect(asSecret(deploy.inputs.connections)).toEqual({ secret: true, value: [
      { host: "192.0.2.1", port: 22, user: "root", perDialTimeout: 15 },
      { host: "192.0.2.2", port: 2222, user: "ops", perDialTimeout: 15 },
    ] });
    // The provider travels serialized in the state; it must hold its deploy script, not a path to it.
    expect(String(deploy.inputs.__provider)).toContain("docker stack deploy --prune");
    expect(made.some((m) => m.type === "command:remote:Command")).toBe(false);
    expect(digest).toMatch(/^[0-9a-f]{16}$/);
  });
});
