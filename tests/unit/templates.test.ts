// The service template's stack file is the rendering of templates/service-stack.ts (the platform's Traefik
// labels and deploy conventions). The committed file is the expectation: the test never writes it. When the
// conventions change on purpose, the failing test writes the new rendering to a temporary file and prints
// the `cp` that puts it in place, for a person to review and commit.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { traefikRouteLabels } from "../../components/service-conventions";
import { serviceStack } from "../../templates/service-stack";
import { REPO } from "./support/harness";

const FILE = path.join(REPO, "templates/python-service/deploy/stack.yml");
const HEADER = "# Rendered from templates/service-stack.ts (tests/unit/templates.test.ts prints how to update it); do not edit.\n";

describe("service template stack", () => {
  const rendered = serviceStack({ name: "python-service", port: 8000 });

  test("deploy/stack.yml is the rendering of serviceStack (no hand edits drift from the conventions)", () => {
    const committed = fs.readFileSync(FILE, "utf8");
    if (JSON.stringify(parse(committed)) !== JSON.stringify(rendered)) {
      const fresh = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mbio-template-")), "stack.yml");
      fs.writeFileSync(fresh, HEADER + stringify(rendered, { lineWidth: 0 }));
      console.log(`the conventions render differently; if that is intended: cp ${fresh} ${path.relative(REPO, FILE)}`);
    }
    expect(committed.startsWith(HEADER)).toBe(true);
    expect(parse(committed)).toEqual(rendered);
  });

  test("routes through Traefik with the shared labels, rolls start-first with rollback, limits set", () => {
    const svc = rendered.services["python-service"] as { deploy: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(svc.deploy.labels).toEqual(traefikRouteLabels({ name: "python-service", host: "${SERVICE_HOST}", port: 8000 }));
    expect(svc.deploy.labels["traefik.http.routers.python-service.rule"]).toBe("Host(`${SERVICE_HOST}`)");
    expect(svc.deploy.update_config).toMatchObject({ order: "start-first", failure_action: "rollback" });
    expect(svc.deploy.resources.limits).toEqual({ cpus: "0.5", memory: "256M" });
  });
});
