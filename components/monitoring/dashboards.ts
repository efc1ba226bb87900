// The provisioned Grafana dashboards, built with the Grafana foundation SDK. Every panel queries the one
// InfluxDB datasource (fixed uid) with raw InfluxQL; tests/real/monitoring.sh runs each panel's query
// against a real InfluxDB fed by the real Telegraf. To add a dashboard: write a function returning a
// DashboardBuilder here and list it in DASHBOARDS (docs/monitoring.md).
import { DashboardBuilder, RowBuilder, ThresholdsConfigBuilder, ThresholdsMode } from "@grafana/grafana-foundation-sdk/dashboard";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as table from "@grafana/grafana-foundation-sdk/table";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";
import { DATASOURCE, influxql } from "./influxql";

/** The Swarm's own measurements, shared with the alert rules so both read the same thing. */
export const Q = {
  nodeSamples: `SELECT count("uptime") FROM "system" WHERE $timeFilter GROUP BY time($__interval), "host" fill(0)`,
  // Samples per host and minute; fill(0) keeps a silent host's series alive with trailing zeros for as
  // long as it has any sample in the range, which is what lets the node-down rule see it.
  nodeSamplesPerMinute: `SELECT count("uptime") AS "samples" FROM "system" WHERE $timeFilter GROUP BY time(1m), "host" fill(0)`,
  servicesDesiredRunning: `SELECT last("tasks_desired") AS "desired", last("tasks_running") AS "running" FROM "docker_swarm" WHERE $timeFilter GROUP BY "service_name"`,
  serviceMissingTasks: `SELECT last("tasks_desired") - last("tasks_running") AS "missing" FROM "docker_swarm" WHERE $timeFilter GROUP BY "service_name"`,
  // Swarm replaces a failed task with a new container: distinct containers per service = tasks started.
  taskStarts: `SELECT count(distinct("container_id")) AS "containers" FROM "docker_container_status" WHERE $timeFilter GROUP BY "com.docker.swarm.service.name"`,
  cpuUsed: `SELECT 100 - mean("usage_idle") AS "cpu" FROM "cpu" WHERE "cpu" = 'cpu-total' AND $timeFilter GROUP BY time($__interval), "host"`,
  memUsed: `SELECT last("used_percent") AS "memory" FROM "mem" WHERE $timeFilter GROUP BY time($__interval), "host"`,
  memUsedNow: `SELECT last("used_percent") AS "memory" FROM "mem" WHERE $timeFilter GROUP BY "host"`,
  diskUsed: `SELECT last("used_percent") AS "disk" FROM "disk" WHERE $timeFilter GROUP BY time($__interval), "host", "path"`,
  diskUsedNow: `SELECT last("used_percent") AS "disk" FROM "disk" WHERE $timeFilter GROUP BY "host", "path"`,
  diskIo: `SELECT non_negative_derivative(last("read_bytes"), 1s) AS "read", non_negative_derivative(last("write_bytes"), 1s) AS "write" FROM "diskio" WHERE $timeFilter GROUP BY time($__interval), "host", "name"`,
  netIo: `SELECT non_negative_derivative(last("bytes_recv"), 1s) * 8 AS "in", non_negative_derivative(last("bytes_sent"), 1s) * 8 AS "out" FROM "net" WHERE $timeFilter GROUP BY time($__interval), "host", "interface"`,
  load: `SELECT mean("load1") AS "load1" FROM "system" WHERE $timeFilter GROUP BY time($__interval), "host"`,
  // Traefik's counters, scraped by Telegraf's prometheus input (metric_version 2: one measurement "prometheus").
  // Counters per label set: the last value of each series per bucket, summed per service, then the rate.
  edgeRequests: `SELECT non_negative_derivative(sum("c"), 1s) AS "rps" FROM (SELECT last("traefik_service_requests_total") AS "c" FROM "prometheus" WHERE $timeFilter GROUP BY time($__interval), "service", "code", "method", "protocol") WHERE $timeFilter GROUP BY time($__interval), "service"`,
  edgeErrors: `SELECT non_negative_derivative(sum("c"), 1s) AS "errors" FROM (SELECT last("traefik_service_requests_total") AS "c" FROM "prometheus" WHERE "code" =~ /^5/ AND $timeFilter GROUP BY time($__interval), "service", "code", "method", "protocol") WHERE $timeFilter GROUP BY time($__interval), "service"`,
  edgeLatency: `SELECT non_negative_difference(sum("s")) / non_negative_difference(sum("n")) AS "latency" FROM (SELECT last("traefik_service_request_duration_seconds_sum") AS "s", last("traefik_service_request_duration_seconds_count") AS "n" FROM "prometheus" WHERE $timeFilter GROUP BY time($__interval), "service", "code", "method", "protocol") WHERE $timeFilter GROUP BY time($__interval), "service"`,
  edge5xxRequests: `SELECT sum("d") AS "requests" FROM (SELECT spread("traefik_service_requests_total") AS "d" FROM "prometheus" WHERE $timeFilter GROUP BY "service", "code", "method", "protocol") WHERE "code" =~ /^5/ GROUP BY "service"`,
  edgeAllRequests: `SELECT sum("d") AS "requests" FROM (SELECT spread("traefik_service_requests_total") AS "d" FROM "prometheus" WHERE $timeFilter GROUP BY "service", "code", "method", "protocol") GROUP BY "service"`,
  certExpiry: `SELECT min("expiry") AS "expiry" FROM "x509_cert" WHERE $timeFilter GROUP BY "source"`,
  // Backup agent (components/files/backup/lib.sh): one line per item and run, last_success in epoch seconds.
  backupLastSuccess: `SELECT last("last_success") * 1000 AS "last_success" FROM "mbio_backup" WHERE $timeFilter GROUP BY "node", "kind", "target"`,
  backupRunSuccess: `SELECT max("success") AS "success" FROM "mbio_backup" WHERE "kind" = 'run' AND $timeFilter GROUP BY "node"`,
  backupDuration: `SELECT last("duration_seconds") AS "duration" FROM "mbio_backup" WHERE $timeFilter GROUP BY time($__interval), "node", "kind", "target" fill(none)`,
  backupBytes: `SELECT last("bytes_added") AS "added", last("bytes_processed") AS "processed" FROM "mbio_backup" WHERE $timeFilter GROUP BY time($__interval), "node", "target" fill(none)`,
} as const;

const thresholds = (...steps: [number | null, string][]) =>
  new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps.map(([value, color]) => ({ value, color })));

const series = (title: string, query: string, unit: string, w = 12) =>
  new timeseries.PanelBuilder().title(title).datasource(DATASOURCE).withTarget(influxql(query)).unit(unit).height(8).span(w);

const tableOf = (title: string, query: string, w = 12) =>
  new table.PanelBuilder().title(title).datasource(DATASOURCE).withTarget(influxql(query).table()).height(8).span(w);

const base = (uid: string, title: string) =>
  new DashboardBuilder(title).uid(uid).tags(["mbio-cloud", "platform"]).refresh("30s").time({ from: "now-6h", to: "now" }).timezone("utc").editable();

export function swarmOverview(): DashboardBuilder {
  return base("mbio-swarm", "Swarm overview")
    .withRow(new RowBuilder("Nodes"))
    .withPanel(series("Samples per node (0 = node not reporting)", Q.nodeSamples, "short"))
    .withPanel(series("Load (1 min)", Q.load, "short"))
    .withRow(new RowBuilder("Services"))
    .withPanel(tableOf("Services: desired vs running tasks", Q.servicesDesiredRunning))
    .withPanel(
      new stat.PanelBuilder().title("Missing tasks per service").datasource(DATASOURCE).withTarget(influxql(Q.serviceMissingTasks)).height(8).span(12).thresholds(thresholds([null, "green"], [1, "red"])),
    )
    .withPanel(tableOf("Containers started per service in the range (restarts + 1)", Q.taskStarts, 24));
}

export function hostResources(): DashboardBuilder {
  return base("mbio-hosts", "Host resources")
    .withPanel(series("CPU used", Q.cpuUsed, "percent").max(100))
    .withPanel(series("Memory used", Q.memUsed, "percent").max(100).thresholds(thresholds([null, "green"], [90, "red"])))
    .withPanel(series("Disk used", Q.diskUsed, "percent").max(100).thresholds(thresholds([null, "green"], [85, "red"])))
    .withPanel(series("Disk I/O", Q.diskIo, "Bps"))
    .withPanel(series("Network", Q.netIo, "bps"))
    .withPanel(series("Load (1 min)", Q.load, "short"));
}

export function edge(): DashboardBuilder {
  return base("mbio-edge", "Edge (Traefik)")
    .withPanel(series("Requests per second", Q.edgeRequests, "reqps"))
    .withPanel(series("5xx responses per second", Q.edgeErrors, "reqps"))
    .withPanel(series("Mean latency", Q.edgeLatency, "s"))
    .withPanel(
      new stat.PanelBuilder().title("Certificate expiry").datasource(DATASOURCE).withTarget(influxql(Q.certExpiry)).unit("s").height(8).span(12).thresholds(thresholds([null, "red"], [14 * 86400, "green"])),
    );
}

export function backups(): DashboardBuilder {
  return base("mbio-backups", "Backups")
    .withPanel(
      new stat.PanelBuilder().title("Last success").datasource(DATASOURCE).withTarget(influxql(Q.backupLastSuccess)).unit("dateTimeFromNow").height(8).span(12),
    )
    .withPanel(
      new stat.PanelBuilder().title("Last run succeeded (1 = yes)").datasource(DATASOURCE).withTarget(influxql(Q.backupRunSuccess)).height(8).span(12).thresholds(thresholds([null, "red"], [1, "green"])),
    )
    .withPanel(series("Duration", Q.backupDuration, "s"))
    .withPanel(series("Size (bytes added, bytes read)", Q.backupBytes, "bytes"));
}

/** Every provisioned dashboard, by file name. */
export const DASHBOARDS: Record<string, () => DashboardBuilder> = {
  "swarm-overview": swarmOverview,
  "host-resources": hostResources,
  edge,
  backups,
};

/** The dashboards as the JSON files Grafana's file provider loads. */
export function dashboardFiles(): Record<string, string> {
  return Object.fromEntries(Object.entries(DASHBOARDS).map(([name, build]) => [`${name}.json`, JSON.stringify(build().build(), null, 2)]));
}
