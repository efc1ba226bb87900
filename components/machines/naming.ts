// Node names and private addresses. An address is a pure function of the node's name (role + index), so
// adding or removing a node never renumbers, and so never replaces, another one.
import { NodeRole } from "./types";

/** Offsets inside the subnet: managers .11-.15, workers .101-.150, CI nodes .201-.210; .1 is Hetzner's gateway. */
const FIRST_HOST: Record<NodeRole, number> = { manager: 10, worker: 100, ci: 200 };
const MAX_INDEX: Record<NodeRole, number> = { manager: 5, worker: 50, ci: 10 };

export function nodeName(environment: string, role: NodeRole, index: number): string {
  return `${environment}-${role}-${index}`;
}

/** The 1-based node names of an environment, managers first, CI nodes last. */
export function plannedNodes(environment: string, managers: number, workers: number, ciNodes = 0): { name: string; role: NodeRole; index: number }[] {
  const list = (role: NodeRole, n: number) => Array.from({ length: n }, (_, i) => ({ name: nodeName(environment, role, i + 1), role, index: i + 1 }));
  return [...list("manager", managers), ...list("worker", workers), ...list("ci", ciNodes)];
}

export function privateIpFor(subnetCidr: string, role: NodeRole, index: number): string {
  if (index < 1 || index > MAX_INDEX[role]) throw new Error(`${role} index ${index} is outside 1..${MAX_INDEX[role]}`);
  const [base] = subnetCidr.split("/");
  const octets = base.split(".").map(Number);
  // Subnets are /24 or larger (validated), so the last octet carries the node offset.
  octets[3] = FIRST_HOST[role] + index;
  return octets.join(".");
}

/** Hetzner network zone of a location. */
export function networkZone(location: string): string {
  const zones: Record<string, string> = { fsn1: "eu-central", nbg1: "eu-central", hel1: "eu-central", ash: "us-east", hil: "us-west", sin: "ap-southeast" };
  const zone = zones[location];
  if (!zone) throw new Error(`no Hetzner network zone known for location ${location}`);
  return zone;
}

/** Hetzner spread placement groups hold at most 10 servers; index i goes to group ceil(i/10), stable. */
export const PLACEMENT_GROUP_SIZE = 10;
export function placementGroupIndex(index: number): number {
  return Math.ceil(index / PLACEMENT_GROUP_SIZE);
}
