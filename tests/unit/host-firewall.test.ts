// What firewall.sh is told per node role; the rules themselves are proven on real machines by
// tests/real/security-audit.sh (SSH from a non-admin address and 443 on a non-edge node time out).
import { execFileSync } from "child_process";
import * as path from "path";
import { hostFirewallEnv, privateSources } from "../../components/host-firewall";

const cfg = { adminCidrs: ["203.0.113.0/24", "198.51.100.7/32"] };
const script = path.join(__dirname, "../../components/files/cloud-init/firewall.sh");
/** firewall.sh's input checks run before it touches anything: run it with bash to see them refuse. */
function refusal(env: Record<string, string>): string {
  try {
    execFileSync("bash", [script], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: "pipe" });
    return "accepted";
  } catch (e) {
    return String((e as { stderr: Buffer }).stderr);
  }
}

describe("host firewall", () => {
  test("managers take Swarm management and web traffic, SSH from admin CIDRs only", () => {
    expect(hostFirewallEnv(cfg, "manager", "10.20.0.0/16")).toEqual({ PRIVATE_CIDR: "10.20.0.0/16", ADMIN_CIDRS: "203.0.113.0/24 198.51.100.7/32", MANAGER: "true", EDGE: "true", PRIVATE_PORTS: "" });
  });

  test("existing hosts: the Swarm ports from exactly the stack's hosts; Hetzner: the private network", () => {
    const hosts = [{ name: "a", address: "192.0.2.1", privateAddress: "10.99.0.1", hostKey: "k" }, { name: "b", address: "192.0.2.2", privateAddress: "10.99.0.2", hostKey: "k" }];
    expect(privateSources({ machineSource: "existing", hosts })).toEqual(["10.99.0.1/32", "10.99.0.2/32"]);
    expect(privateSources({ machineSource: "hetzner", privateNetwork: { cidr: "10.20.0.0/16", subnet: "10.20.1.0/24" } })).toEqual(["10.20.0.0/16"]);
    expect(hostFirewallEnv(cfg, "worker", ["10.99.0.1/32", "10.99.0.2/32"]).PRIVATE_CIDR).toBe("10.99.0.1/32 10.99.0.2/32");
  });

  test("workers take neither 2377 nor the web ports; a storage driver adds its own private ports", () => {
    expect(hostFirewallEnv(cfg, "worker", "10.20.0.0/16", ["8282/tcp"])).toMatchObject({ MANAGER: "false", EDGE: "false", PRIVATE_PORTS: "8282/tcp" });
  });

  test.each([
    [{ PRIVATE_CIDR: "10.20.0.0/16", ADMIN_CIDRS: "0.0.0.0/0" }, /must not contain 0\.0\.0\.0\/0: SSH is never open to the world/],
    [{ PRIVATE_CIDR: "10.20.0.0/16", ADMIN_CIDRS: "203.0.113.0" }, /ADMIN_CIDRS entry '203\.0\.113\.0' is not an IPv4 CIDR/],
    [{ PRIVATE_CIDR: "10.20.0.0", ADMIN_CIDRS: "203.0.113.0/24" }, /PRIVATE_CIDR entry '10\.20\.0\.0' is not an IPv4 CIDR/],
    [{ PRIVATE_CIDR: "10.99.0.1/32 10.99.0.2", ADMIN_CIDRS: "203.0.113.0/24" }, /PRIVATE_CIDR entry '10\.99\.0\.2' is not an IPv4 CIDR/],
    [{ PRIVATE_CIDR: "10.20.0.0/16", ADMIN_CIDRS: "203.0.113.0/24", PRIVATE_PORTS: "8282" }, /PRIVATE_PORTS entry '8282' is not port\/tcp or port\/udp/],
    [{ ADMIN_CIDRS: "203.0.113.0/24" }, /PRIVATE_CIDR is required/],
  ])("firewall.sh refuses bad input before changing anything (%#)", (env, expected) => {
    expect(refusal(env)).toMatch(expected);
  });
});
