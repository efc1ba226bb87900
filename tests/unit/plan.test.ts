// The plan of every real stack under mocks: which resources (type and name) the program registers. The
// real-provider preview (tests/real/preview.sh) compares the real engine's plan with this one, so what the
// mock tests assert on is what `pulumi preview` would create. MBIO_PLAN_OUT=DIR writes <stack>.json there.
import * as fs from "fs";
import * as path from "path";
import { deployableConfig, runProgram } from "./support/harness";

describe.each(["development", "staging", "production"])("plan of %s", (stack) => {
  test("registers every resource without error, each (type, name) once", async () => {
    const run = await runProgram(stack, deployableConfig(stack));
    expect(run.error).toBeUndefined();
    const plan = run.resources.map((r) => `${r.type}::${r.name}`).sort();
    expect(new Set(plan).size).toBe(plan.length);
    expect(plan).toContain(`mbio-cloud:platform:Environment::${stack}`);
    const out = process.env.MBIO_PLAN_OUT;
    if (out) {
      fs.mkdirSync(out, { recursive: true });
      fs.writeFileSync(path.join(out, `${stack}.json`), JSON.stringify(plan, null, 1));
    }
  });
});
