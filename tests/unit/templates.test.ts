// The service template's stack file is the rendering of templates/service-stack.ts (the platform's Traefik
// labels and deploy conventions); UPDATE_TEMPLATES=1 npx jest tests/unit/templates.test.ts rewrites it.
import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { traefikRouteLabels } from "../../components/service-conventions";
import { serviceStack } from "../../templates/service-stack";
import { REPO } from "./support/harness";

const FILE = path.join(REPO, "templates/python-service/deploy/stack.yml");
const HEADER = "# Rendered from templates/service-stack.ts (UPDATE_TEMPLATES=1 npx jest tests/unit/templates.test.ts); do not edit.\n";

describe("service template stack", () => {
  const rendered = serviceStack({ name: "python-service", port: 8000 });
  if (process.env.UPDATE_TEMPLATES === "1") fs.writeFileSync(FILE, HEADER + stringify(rendered, { lineWidth: 0 }));

  test("deploy/stack.yml is the rendering of serviceStack (no hand edits drift from the conventions)", () => {
    expect(parse(fs.readFileSync(FILE, "utf8"))).toEqual(rendered);
  });

  test("routes through Traefik with the shared labels, rolls start-first with rollback, limits set", () => {
    const svc = rendered.services["python-service"] as { deploy: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(svc.deploy.labels).toEqual(traefikRouteLabels({ name: "python-service", host: "${SERVICE_HOST}", port: 8000 }));
    expect(svc.deploy.labels["traefik.http.routers.python-service.rule"]).toBe("Host(`${SERVICE_HOST}`)");
    expect(svc.deploy.update_config).toMatchObject({ order: "start-first", failure_action: "rollback" });
    expect(svc.deploy.resources.limits).toEqual({ cpus: "0.5", memory: "256M" });
  });
});
