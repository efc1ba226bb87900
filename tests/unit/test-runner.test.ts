// The test run's own checks (scripts/lib/steps.sh, used by scripts/test.sh), run for real in a throwaway git
// repository: a slow step misses the budget and, past a tiny ceiling, fails the run and stops the steps after
// it; a step that writes a tracked file fails the clean-tree check; a background job ends with the run.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO } from "./support/harness";

function git(dir: string, ...args: string[]): void {
  const r = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
}

/** Runs a driver script that sources steps.sh inside a fresh repository with one tracked file. */
function run(body: string): { status: number | null; out: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mbio-steps-"));
  fs.copyFileSync(path.join(REPO, "scripts/lib/steps.sh"), path.join(dir, "steps.sh"));
  fs.writeFileSync(path.join(dir, "tracked.txt"), "as committed\n");
  git(dir, "init", "-q");
  git(dir, "add", ".");
  git(dir, "commit", "-q", "-m", "init");
  const r = spawnSync("bash", ["-c", `. ./steps.sh\n${body}`], { cwd: dir, encoding: "utf8" });
  return { status: r.status, out: r.stdout + r.stderr, dir };
}

describe("scripts/lib/steps.sh", () => {
  test("a run inside its budget and ceiling passes and says so", () => {
    const r = run(`steps_init 100 200 warm\nstep one true\nstep two bash -c 'echo "two: 3 passed, 0 failed"'\nsteps_finish`);
    expect(r.out).toMatch(/budget: met — \d+s of the warm budget 100s; slowest: /);
    expect(r.out).toContain("test: 5 passed, 0 failed"); // one + 3 counted + clean tree
    expect(r.out).not.toMatch(/ceiling: FAILED/);
    expect(r.status).toBe(0);
  });

  test("a slow step: the budget line reports the miss, the ceiling fails the run and stops later steps", () => {
    const r = run(`steps_init 1 2 warm\nstep slow sleep 3\nstep later true\nsteps_finish`);
    expect(r.out).toMatch(/budget: MISSED — \d+s over the warm budget 1s by \d+s; slowest: slow \(\d+s\)/);
    expect(r.out).toMatch(/ceiling: FAILED — the run took \d+s, past the hard ceiling of 2s/);
    expect(r.out).toContain("not started: the run is past its ceiling of 2s");
    expect(r.out).toMatch(/SKIP .* later \(not started: past the ceiling\)/);
    expect(r.status).not.toBe(0);
  });

  test("a step that writes a tracked file fails the clean-tree check", () => {
    const r = run(`steps_init 100 200 warm\nstep writer bash -c 'echo changed >>tracked.txt'\nsteps_finish`);
    expect(r.out).toContain("the run changed the repository");
    expect(r.out).toMatch(/M tracked\.txt/);
    expect(r.out).toMatch(/FAIL +\d+s +clean tree/);
    expect(r.status).not.toBe(0);
  });

  test("a file a step adds to the repository fails it too; a change made before the run does not", () => {
    const r = run(`echo mine >>tracked.txt\nsteps_init 100 200 warm\nstep adder touch new-file\nsteps_finish`);
    expect(r.out).toMatch(/\?\? new-file/);
    expect(r.status).not.toBe(0);
    const before = run(`echo mine >>tracked.txt\nsteps_init 100 200 warm\nstep reader cat tracked.txt\nsteps_finish`);
    expect(before.out).toContain("no tracked file changed, no file added");
    expect(before.status).toBe(0);
  });

  test("a lane runs beside the steps; its steps' output, counts and failures are replayed in order", () => {
    const lane = `printf 'lane one\\techo "lane-one: 2 passed, 0 failed"\\nlane two\\techo broken; exit 3\\n' | steps_lane "$d" &\npid=$!`;
    const r = run(`steps_init 100 200 warm\nd=$(mktemp -d)\n${lane}\nstep beside sleep 1\nwait $pid\nstep_lane_result "lane one" "$d" 1\nstep_lane_result "lane two" "$d" 2\nsteps_finish`);
    expect(r.out).toMatch(/--- lane one.*\n(.*\n)*lane-one: 2 passed, 0 failed/);
    expect(r.out).toMatch(/FAIL +\d+s +lane two \(lane\)/);
    expect(r.out).toContain("broken");
    expect(r.out).toContain("test: 4 passed, 1 failed"); // beside + 2 from lane one + clean tree; lane two
    expect(r.status).not.toBe(0);
  });

  test("a background job registered by a step does not outlive the run", () => {
    // Registered inside a step, as scripts/test.sh's toolchain step does: a step runs in a subshell (its output
    // goes through tee), so the registration must outlive it (a cold run once left the cloudflare build running).
    // Killed, the orphan may stay a zombie until the machine's init reaps it: a zombie is not running.
    const starter = `starter() { setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! >"$pidf"; step_background $! "sleeper"; }`;
    const r = run(`steps_init 100 200 warm\npidf=$(mktemp)\n${starter}\nstep "starts a sleeper" starter\npid=$(cat "$pidf")\nsteps_finish\nsleep 0.5\nif [ -r /proc/$pid/status ] && ! grep -q "^State:[[:space:]]*Z" /proc/$pid/status; then echo "STILL RUNNING"; kill $pid; fi`);
    expect(r.out).toMatch(/stopping the background sleeper \(pid \d+/);
    expect(r.out).not.toContain("STILL RUNNING");
  });
});
