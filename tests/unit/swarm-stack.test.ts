import * as pulumi from "@pulumi/pulumi";
import { canonicalJson, ComposeFile, withEndpointMode } from "../../components/swarm-stack";

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

  test("deploys over SSH with the document on stdin and removes the stack on delete", async () => {
    const made: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
    pulumi.runtime.setMocks({ newResource: (a) => (made.push(a), { id: `${a.name}-id`, state: { ...a.inputs, stdout: "" } }), call: (a) => a.inputs }, "p", "s", false);
    const { SwarmStack } = await import("../../components/swarm-stack");
    const stack = new SwarmStack("staging-web", { connection: { host: "192.0.2.1" }, stackName: "web", compose, endpointMode: "dnsrr" });
    const digest = await new Promise<string>((r) => stack.digest.apply(r));
    await new Promise((r) => setTimeout(r, 50));
    const deploy = made.find((m) => m.type === "command:remote:Command")!;
    expect(deploy.name).toBe("staging-web-deploy");
    expect(String(deploy.inputs.create)).toContain("STACK='web'");
    expect(String(deploy.inputs.create)).toContain("docker stack deploy --prune");
    expect(JSON.parse(String(deploy.inputs.stdin)).services.web.deploy.endpoint_mode).toBe("dnsrr");
    expect(deploy.inputs.delete).toBe("docker stack rm web >/dev/null 2>&1 || true");
    expect(digest).toMatch(/^[0-9a-f]{16}$/);
  });
});
