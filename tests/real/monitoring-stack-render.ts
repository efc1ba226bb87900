// Renders the monitoring stack exactly as TigMonitoring deploys it (Compose document, content-named configs
// and secrets) for tests/real/monitoring-swarm.sh: JSON on stdout { compose, objects: [{kind, name, content}] }.
// Usage: node monitoring-stack-render.js '<json: {images, dockerGid, networkName, passwords}>'
import { monitoringSchema } from "../../components/config/monitoring";
import { contentName } from "../../components/service-conventions";
import { withEndpointMode } from "../../components/swarm-stack";
import { monitoringCompose, monitoringFiles } from "../../components/tig-monitoring";

const a = JSON.parse(process.argv[2]) as { images: Record<string, string>; dockerGid: number; networkName: string; passwords: Record<string, string> };
// No Grafana image can be had offline: the same switch the sandbox sets.
const monitoring = monitoringSchema.parse({ grafana: false, dockerGid: a.dockerGid });
const common = { environment: "local", dnsNamespace: "local.mbiosphere.test", monitoring, backupSchedule: "15 2 * * *" };
const files = Object.fromEntries(Object.entries(monitoringFiles(common)).filter(([k]) => !k.startsWith("grafana_") && !k.startsWith("dashboard_")));
const configNames = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, contentName(`monitoring-${k.replace(/_/g, "-")}`, f.content)]));
const secretNames = Object.fromEntries(Object.entries(a.passwords).map(([k, v]) => [k, contentName(`monitoring-${k.replace(/_/g, "-")}`, `local\0${v}`)])) as Parameters<typeof monitoringCompose>[0]["secretNames"];
const compose = withEndpointMode(monitoringCompose({ ...common, images: a.images, networkName: a.networkName, files, configNames, secretNames }), "dnsrr");
const objects = [
  ...Object.entries(files).map(([k, f]) => ({ kind: "config", name: configNames[k], content: f.content })),
  ...Object.entries(a.passwords).map(([k, v]) => ({ kind: "secret", name: secretNames[k as keyof typeof secretNames], content: v })),
];
process.stdout.write(JSON.stringify({ compose, objects }));
