// What firewall.sh is told per node role; the rules themselves are proven on real machines by
// tests/real/security-audit.sh (SSH from a non-admin address and 443 on a non-edge node time out).
import { execFileSync } from "child_process";
import * as path from "path";
import { hostFirewallEnv } from "../../components/host-firewall";

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

  test("workers take neither 2377 nor the web ports; a storage driver adds its own private ports", () => {
    expect(hostFirewallEnv(cfg, "worker", "10.20.0.0/16", ["8282/tcp"])).toMatchObject({ MANAGER: "false", EDGE: "false", PRIVATE_PORTS: "8282/tcp" });
  });

  test.each([
    [{ PRIVATE_CIDR: "10.20.0.0/16", ADMIN_CIDRS: "0.0.0.0/0" }, /must not contain 0\.0\.0\.0\/0: SSH is never open to the world/],
    [{ PRIVATE_CIDR: "10.20.0.0/16", ADMIN_CIDRS: "203.0.113.0" }, /ADMIN_CIDRS entry '203\.0\.113\.0' is not an IPv4 CIDR/],
    [{ PRIVATE_CIDR: "10.20.0.0", ADMIN_CIDRS: "203.0.113.0/24" }, /PRIVATE_CIDR '10\.20\.0\.0' is not an IPv4 CIDR/],
    [{ PRIVATE_CIDR: "10.20.0.0/16", ADMIN_CIDRS: "203.0.113.0/24", PRIVATE_PORTS: "8282" }, /PRIVATE_PORTS entry '8282' is not port\/tcp or port\/udp/],
    [{ ADMIN_CIDRS: "203.0.113.0/24" }, /PRIVATE_CIDR is required/],
  ])("firewall.sh refuses bad input before changing anything (%#)", (env, expected) => {
    expect(refusal(env)).toMatch(expected);
  });
});
