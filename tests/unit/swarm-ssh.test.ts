// runOnManager against fake SSH endpoints (ssh2's Client mocked): the managers are asked in rounds, the first
// one that is a Swarm manager does the work, a stopped one costs one dial per round, and when none answers the
// error names every manager tried and why.
import { EventEmitter } from "events";

type Behaviour = "down" | "not-a-manager" | "manager" | "fails";
const hosts: Record<string, Behaviour> = {};
const dials: string[] = [];
const commands: string[] = [];

jest.mock("ssh2", () => ({
  Client: class extends EventEmitter {
    connect(opts: { host: string }) {
      dials.push(opts.host);
      const b = hosts[opts.host];
      setImmediate(() => (b === "down" ? this.emit("error", new Error("connect EHOSTUNREACH")) : this.emit("ready")));
      this.host = opts.host;
      return this;
    }
    host = "";
    exec(cmd: string, cb: (err: Error | undefined, stream: EventEmitter & { stderr: EventEmitter; end: (s: string) => void }) => void) {
      commands.push(cmd);
      const stream = Object.assign(new EventEmitter(), { stderr: new EventEmitter(), end: () => undefined });
      cb(undefined, stream);
      const b = hosts[this.host];
      setImmediate(() => {
        if (b === "manager") stream.emit("data", Buffer.from(`done on ${this.host}`));
        if (b === "not-a-manager") stream.stderr.emit("data", Buffer.from(`${this.host} is not a reachable Swarm manager`));
        if (b === "fails") stream.stderr.emit("data", Buffer.from("node-apply: error: boom"));
        stream.emit("close", b === "manager" ? 0 : b === "not-a-manager" ? 97 : 1);
      });
    }
    end() {}
  },
}));

import { MANAGER_GUARD, runOnHost, runOnManager } from "../../components/dynamic-providers/ssh";

const c = (host: string) => ({ host, perDialTimeout: 1 });
beforeEach(() => {
  dials.length = 0;
  commands.length = 0;
  for (const k of Object.keys(hosts)) delete hosts[k];
});

test("a stopped manager-1 is dialled once; the next manager does the work", async () => {
  Object.assign(hosts, { m1: "down", m2: "manager", m3: "manager" });
  const r = await runOnManager([c("m1"), c("m2"), c("m3")], "echo hi", { A: "it's" });
  expect(r).toMatchObject({ host: "m2", stdout: "done on m2" });
  expect(dials).toEqual(["m1", "m2"]);
  // Values are single-quoted for bash; the manager guard runs first.
  expect(commands[0]).toContain(`A='it'\\''s' bash -c`);
  expect(commands[0]).toContain("ControlAvailable");
});

test("a node that is no longer a manager is skipped for good; a failing script stops at once", async () => {
  Object.assign(hosts, { m1: "not-a-manager", m2: "manager" });
  expect((await runOnManager([c("m1"), c("m2")], "true")).host).toBe("m2");
  Object.assign(hosts, { m1: "fails", m2: "manager" });
  await expect(runOnManager([c("m1"), c("m2")], "true")).rejects.toThrow("on m1: exit 1: node-apply: error: boom");
});

test("none answers: three rounds over the reachable-or-not, then an error naming every manager", async () => {
  Object.assign(hosts, { m1: "down", m2: "not-a-manager", m3: "down" });
  const err = (await runOnManager([c("m1"), c("m2"), c("m3")], "true").catch((e) => e)) as Error & { attempts: unknown[] };
  expect(err.message).toBe("no Swarm manager answered; tried 3 manager(s): m1: unreachable (connect EHOSTUNREACH); m2: reachable, not a Swarm manager; m3: unreachable (connect EHOSTUNREACH)");
  expect(err.attempts).toEqual([
    { host: "m1", reason: "unreachable", detail: "connect EHOSTUNREACH" },
    { host: "m2", reason: "not-a-manager", detail: "m2 is not a reachable Swarm manager" },
    { host: "m3", reason: "unreachable", detail: "connect EHOSTUNREACH" },
  ]);
  expect(dials).toEqual(["m1", "m2", "m3", "m1", "m3", "m1", "m3"]);
});

test("all reachable and none a manager: one round is enough to know (no waiting)", async () => {
  Object.assign(hosts, { m1: "not-a-manager", m2: "not-a-manager" });
  const t = Date.now();
  const err = (await runOnManager([c("m1"), c("m2")], "true").catch((e) => e)) as Error & { attempts: { reason: string }[] };
  expect(err.attempts.map((a) => a.reason)).toEqual(["not-a-manager", "not-a-manager"]);
  expect(Date.now() - t).toBeLessThan(1500);
});

test("runOnHost runs on that host without the manager guard", async () => {
  Object.assign(hosts, { w1: "manager" });
  await runOnHost(c("w1"), "docker swarm leave --force");
  expect(commands[0]).not.toContain(MANAGER_GUARD.trim());
});
