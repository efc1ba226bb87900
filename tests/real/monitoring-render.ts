// Renders what tests/real/monitoring.sh checks, from the same code the stack deploys:
//   <out>/provisioning/...      every Grafana provisioning file of the monitoring stack (as mounted)
//   <out>/telegraf-node.conf, telegraf-cluster.conf   the deployed Telegraf configs
//   <out>/telegraf-test-*.conf  the same generator pointed at the test's InfluxDB and sources
//   <out>/queries.tsv           every dashboard panel query and alert rule query: where \t range \t InfluxQL
// Usage: node monitoring-render.js OUT INFLUX_URL PROMETHEUS_URL CERT_SOURCE
import * as fs from "fs";
import * as path from "path";
import { monitoringSchema } from "../../components/config/monitoring";
import { alertRulesFile } from "../../components/monitoring/alerts";
import { DASHBOARDS } from "../../components/monitoring/dashboards";
import { expandMacros } from "../../components/monitoring/influxql";
import { telegrafConfig } from "../../components/monitoring/telegraf";
import { INFLUX_USERS, monitoringFiles } from "../../components/tig-monitoring";

const [out, influxUrl, prometheusUrl, certSource] = process.argv.slice(2);
const monitoring = monitoringSchema.parse({ contactPoints: [{ name: "ops webhook", type: "webhook", url: "https://hooks.example.test/alerts" }, { name: "ops mail", type: "email", addresses: ["ops@example.test"] }] });
const files = monitoringFiles({ environment: "local", dnsNamespace: "local.mbiosphere.test", monitoring, backupSchedule: "15 2 * * *" });
for (const f of Object.values(files)) {
  const target = f.target.startsWith("/etc/grafana/provisioning/") ? path.join(out, "provisioning", f.target.slice("/etc/grafana/provisioning/".length)) : path.join(out, "deployed", f.target.replace(/^\//, ""));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, f.content);
}
const test = (role: "node" | "cluster") =>
  telegrafConfig({ role, influxUrl, database: monitoring.influxdb.database, retentionPolicy: monitoring.influxdb.retentionPolicy.name, writerUser: INFLUX_USERS.writer, intervalSeconds: 2, prometheusUrls: prometheusUrl ? [prometheusUrl] : [], certificateSources: [certSource], certificateIntervalSeconds: 2 });
fs.writeFileSync(path.join(out, "telegraf-test-node.conf"), test("node"));
fs.writeFileSync(path.join(out, "telegraf-test-cluster.conf"), test("cluster"));

const rows: string[] = [];
for (const [name, build] of Object.entries(DASHBOARDS)) {
  const d = build().build();
  for (const p of d.panels ?? []) {
    for (const t of ("targets" in p ? (p.targets ?? []) : []) as { query?: string; refId?: string }[]) {
      if (t.query) rows.push([`dashboard ${name} / ${p.title} / ${t.refId}`, "3600", expandMacros(t.query, 3600, 10)].join("\t"));
    }
  }
}
for (const g of alertRulesFile({ backupSchedule: "15 2 * * *" }).groups) {
  for (const r of g.rules) {
    for (const q of r.data) {
      const model = q.model as { query?: string };
      if (model.query) rows.push([`rule ${r.uid} / ${q.refId}`, String(q.relativeTimeRange.from ?? 600), expandMacros(model.query, q.relativeTimeRange.from ?? 600, 10)].join("\t"));
    }
  }
}
fs.writeFileSync(path.join(out, "queries.tsv"), `${rows.join("\n")}\n`);
