// The Swarm stack of a service built from the templates: the platform's conventions (Traefik route labels,
// deploy block, stdout logs) from components/service-conventions.ts, rendered once into
// python-service/deploy/stack.yml (tests/unit/templates.test.ts keeps the file equal to this rendering).
// `docker stack deploy` fills in ${IMAGE}, ${SERVICE_HOST} and ${PLATFORM_NETWORK} from the deploy job.
import { ComposeFile } from "../components/swarm-stack";
import { serviceDeploy, STDOUT_LOGGING, traefikRouteLabels } from "../components/service-conventions";

export interface ServiceStackOptions {
  /** Service and router name, e.g. `python-service`. */
  name: string;
  /** Port the container listens on. */
  port: number;
  replicas?: number;
}

export function serviceStack(o: ServiceStackOptions): ComposeFile {
  return {
    version: "3.9",
    services: {
      [o.name]: {
        image: "${IMAGE}",
        environment: { DATABASE_PATH: "/data/service.db" },
        volumes: [{ type: "volume", source: "data", target: "/data" }],
        networks: ["platform"],
        logging: STDOUT_LOGGING,
        deploy: serviceDeploy({
          replicas: o.replicas ?? 1,
          limits: { cpus: 0.5, memory: "256M" },
          reservations: { cpus: 0.05, memory: "64M" },
          constraints: ["node.role == worker"],
          labels: traefikRouteLabels({ name: o.name, host: "${SERVICE_HOST}", port: o.port }),
        }),
      },
    },
    volumes: { data: {} },
    networks: { platform: { external: true, name: "${PLATFORM_NETWORK:-platform}" } },
  };
}
