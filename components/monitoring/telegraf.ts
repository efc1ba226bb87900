// Telegraf's configuration (TOML), generated here so the same text is deployed as a Swarm config and
// checked by tests/real/monitoring.sh with `telegraf --test` against the built binary.
//   node:    every node (global service): host resources from the host's /proc, /sys and mounts, and the
//            node's containers from the Docker socket
//   cluster: one task on a manager: Swarm services (gather_services, needs a manager's API), Traefik's
//            Prometheus metrics and the edge certificates — cluster-wide things, scraped exactly once
// Secrets stay out of the text: the writer password comes from a Swarm secret file through Telegraf's
// environment substitution (${INFLUX_PASSWORD}, set by the entrypoint from the file).

import { EDGE_METRICS_PORT, EDGE_SERVICE, EDGE_STACK } from "../service-conventions";

export const TELEGRAF_HEALTH_PORT = 8888;
/** The Prometheus endpoint of Traefik on the platform network (docs/edge.md). */
export const EDGE_METRICS_URL = `http://tasks.${EDGE_STACK}_${EDGE_SERVICE}:${EDGE_METRICS_PORT}/metrics`;

export interface TelegrafOptions {
  role: "node" | "cluster";
  influxUrl: string;
  database: string;
  retentionPolicy: string;
  writerUser: string;
  /** Seconds between samples. */
  intervalSeconds?: number;
  /** Prometheus endpoints to scrape (cluster role). */
  prometheusUrls?: string[];
  /** https://host:443 sources whose certificates are watched (cluster role). */
  certificateSources?: string[];
  /** Seconds between certificate checks (default 60: a TLS handshake per edge host and minute). */
  certificateIntervalSeconds?: number;
}

const str = (s: string) => JSON.stringify(s);
const list = (l: string[]) => `[${l.map(str).join(", ")}]`;

export function telegrafConfig(o: TelegrafOptions): string {
  const interval = `${o.intervalSeconds ?? 10}s`;
  const parts: string[] = [
    `[agent]
  interval = ${str(interval)}
  round_interval = true
  metric_batch_size = 1000
  # Kept while InfluxDB is away (restart, first start before its database exists): about 2 h at 10 s.
  metric_buffer_limit = 100000
  flush_interval = ${str(interval)}
  hostname = "\${NODE_HOSTNAME}"
  omit_hostname = false`,
    `[global_tags]
  environment = "\${ENVIRONMENT}"
  role = ${str(o.role)}`,
    `[[outputs.influxdb]]
  urls = [${str(o.influxUrl)}]
  database = ${str(o.database)}
  retention_policy = ${str(o.retentionPolicy)}
  # InfluxDB's init creates the database and retention policy; the writer may not create databases.
  skip_database_creation = true
  username = ${str(o.writerUser)}
  password = "\${INFLUX_PASSWORD}"
  timeout = "5s"`,
    `[[outputs.health]]
  service_address = "http://127.0.0.1:${TELEGRAF_HEALTH_PORT}"`,
    `[[inputs.internal]]
  collect_memstats = false`,
    `[[inputs.docker]]
  endpoint = "unix:///var/run/docker.sock"
  gather_services = ${o.role === "cluster"}
  perdevice_include = []
  total_include = ["cpu", "blkio", "network"]
  docker_label_include = ["com.docker.swarm.service.name", "com.docker.stack.namespace"]
  timeout = "5s"`,
  ];
  if (o.role === "node") {
    parts.push(
      `[[inputs.cpu]]
  percpu = false
  totalcpu = true`,
      `[[inputs.mem]]`,
      `[[inputs.disk]]
  ignore_fs = ["tmpfs", "devtmpfs", "devfs", "iso9660", "overlay", "aufs", "squashfs", "nsfs"]`,
      `[[inputs.diskio]]`,
      `[[inputs.net]]
  ignore_protocol_stats = true
  interfaces = ["eth*", "en*", "ens*"]`,
      `[[inputs.system]]`,
    );
  } else {
    for (const url of o.prometheusUrls ?? []) {
      parts.push(`[[inputs.prometheus]]
  urls = [${str(url)}]
  metric_version = 2
  response_timeout = "5s"`);
    }
    if ((o.certificateSources ?? []).length) {
      parts.push(`[[inputs.x509_cert]]
  sources = ${list(o.certificateSources ?? [])}
  timeout = "5s"
  interval = "${o.certificateIntervalSeconds ?? 60}s"`);
    }
  }
  return `${parts.join("\n\n")}\n`;
}
