// Grafana-managed alert rules and contact points, provisioned as files (Grafana's file provisioning
// format for alerting: apiVersion 1, groups → rules; contactPoints → receivers; policies). Rules are built
// with the foundation SDK's alerting builders and written in the file format Grafana documents.
// Thresholds and what to do when a rule fires: docs/monitoring.md.
import * as alerting from "@grafana/grafana-foundation-sdk/alerting";
import * as expr from "@grafana/grafana-foundation-sdk/expr";
import type { ContactPointConfig } from "../config/monitoring";
import { Q } from "./dashboards";
import { DATASOURCE_UID, influxql } from "./influxql";

export const ALERT_FOLDER = "MBIO platform";
export const ALERT_GROUP = "platform";
/** Seconds between evaluations of the group (Grafana requires a multiple of 10 s). */
export const ALERT_INTERVAL_SECONDS = 60;
export const CERT_EXPIRY_DAYS = 14;
export const DISK_PERCENT = 85;
export const MEMORY_PERCENT = 90;
export const EDGE_5XX_RATIO = 0.05;

type Op = "gt" | "lt";
interface RuleSpec {
  uid: string;
  title: string;
  query: string;
  /** Seconds of data the query looks at. */
  range: number;
  reducer: "last" | "max" | "min" | "mean";
  op: Op;
  threshold: number;
  for: string;
  severity: "critical" | "warning";
  summary: string;
  noData?: "OK" | "Alerting" | "NoData";
}

/** Longest gap the backup schedule allows between two runs, plus 6 h of grace for a slow run. */
export function backupMaxAgeSeconds(schedule: string): number {
  const [, , dom, , dow] = schedule.trim().split(/\s+/);
  const interval = dow !== "*" ? 7 * 86400 : dom !== "*" ? 31 * 86400 : 86400;
  return interval + 6 * 3600;
}

const threshold = (refId: string, input: string, op: Op, value: number) =>
  new expr.TypeThresholdBuilder().refId(refId).expression(input).conditions([{ evaluator: { type: op, params: [value] } }]);
const reduce = (refId: string, input: string, reducer: RuleSpec["reducer"]) => new expr.TypeReduceBuilder().refId(refId).expression(input).reducer(reducer);

function rule(spec: RuleSpec, extra: { queries?: alerting.QueryBuilder[]; condition?: string } = {}): alerting.RuleBuilder {
  const source = new alerting.QueryBuilder("A").datasourceUid(DATASOURCE_UID).relativeTimeRange({ from: spec.range, to: 0 }).model(influxql(spec.query));
  const queries = extra.queries ?? [
    source,
    new alerting.QueryBuilder("B").datasourceUid("__expr__").model(reduce("B", "A", spec.reducer)),
    new alerting.QueryBuilder("C").datasourceUid("__expr__").model(threshold("C", "B", spec.op, spec.threshold)),
  ];
  return new alerting.RuleBuilder(spec.title)
    .uid(spec.uid)
    .condition(extra.condition ?? "C")
    .queries(queries)
    .forDuration(spec.for)
    .noDataState(spec.noData ?? "OK")
    .execErrState("Error")
    .labels({ severity: spec.severity, team: "platform" })
    .annotations({ summary: spec.summary, runbook_url: `docs/monitoring.md#${spec.uid}` });
}

export function alertRules(opts: { backupSchedule: string }): alerting.RuleBuilder[] {
  const backupAge = backupMaxAgeSeconds(opts.backupSchedule);
  const edgeRatio = rule(
    { uid: "edge-5xx-ratio", title: "Edge 5xx ratio", query: "", range: 600, reducer: "last", op: "gt", threshold: EDGE_5XX_RATIO, for: "5m", severity: "warning", summary: `More than ${EDGE_5XX_RATIO * 100} % of requests to {{ $labels.service }} answered 5xx in the last 10 minutes` },
    {
      queries: [
        new alerting.QueryBuilder("A").datasourceUid(DATASOURCE_UID).relativeTimeRange({ from: 600, to: 0 }).model(influxql(Q.edge5xxRequests, "A")),
        new alerting.QueryBuilder("B").datasourceUid(DATASOURCE_UID).relativeTimeRange({ from: 600, to: 0 }).model(influxql(Q.edgeAllRequests, "B")),
        new alerting.QueryBuilder("C").datasourceUid("__expr__").model(reduce("C", "A", "last")),
        new alerting.QueryBuilder("D").datasourceUid("__expr__").model(reduce("D", "B", "last")),
        new alerting.QueryBuilder("E").datasourceUid("__expr__").model(new expr.TypeMathBuilder().refId("E").expression("$C / $D")),
        new alerting.QueryBuilder("F").datasourceUid("__expr__").model(threshold("F", "E", "gt", EDGE_5XX_RATIO)),
      ],
      condition: "F",
    },
  );
  return [
    // The last minute's count is 0 for a silent host (fill(0)); the current minute is partial, so a lone 0
    // early in a minute lasts one evaluation and `for` filters it out. A host silent for longer than the
    // 6 h range drops out of the result (then the rule resolves: remove or fix the node).
    rule({ uid: "node-down", title: "Node down", query: Q.nodeSamplesPerMinute, range: 6 * 3600, reducer: "last", op: "lt", threshold: 1, for: "2m", severity: "critical", summary: "{{ $labels.host }} sends no metrics", noData: "Alerting" }),
    rule({ uid: "service-below-desired", title: "Service below desired replicas", query: Q.serviceMissingTasks, range: 300, reducer: "last", op: "gt", threshold: 0, for: "5m", severity: "critical", summary: "{{ $labels.service_name }} runs fewer tasks than desired" }),
    rule({ uid: "disk-full", title: `Disk above ${DISK_PERCENT} %`, query: Q.diskUsedNow, range: 300, reducer: "last", op: "gt", threshold: DISK_PERCENT, for: "10m", severity: "warning", summary: `{{ $labels.path }} on {{ $labels.host }} is more than ${DISK_PERCENT} % full` }),
    rule({ uid: "memory-high", title: `Memory above ${MEMORY_PERCENT} %`, query: Q.memUsedNow, range: 300, reducer: "last", op: "gt", threshold: MEMORY_PERCENT, for: "10m", severity: "warning", summary: `{{ $labels.host }} uses more than ${MEMORY_PERCENT} % of its memory` }),
    rule({ uid: "certificate-expiring", title: "Certificate expiring", query: Q.certExpiry, range: 3600, reducer: "min", op: "lt", threshold: CERT_EXPIRY_DAYS * 86400, for: "1h", severity: "warning", summary: `The certificate of {{ $labels.source }} expires within ${CERT_EXPIRY_DAYS} days` }),
    // No successful run in the window the schedule allows: every node's last runs failed, or none reported.
    rule({ uid: "backup-stale", title: "Backup older than its schedule allows", query: Q.backupRunSuccess, range: backupAge, reducer: "max", op: "lt", threshold: 1, for: "0s", severity: "critical", summary: `No successful backup run on {{ $labels.node }} in the last ${Math.round(backupAge / 3600)} h`, noData: "Alerting" }),
    edgeRatio,
  ];
}

/** The alert rules file (provisioning/alerting/rules.json). */
export function alertRulesFile(opts: { backupSchedule: string }) {
  return {
    apiVersion: 1,
    groups: [
      {
        orgId: 1,
        name: ALERT_GROUP,
        folder: ALERT_FOLDER,
        interval: `${ALERT_INTERVAL_SECONDS}s`,
        rules: alertRules(opts).map((b) => {
          const r = b.build();
          return {
            uid: r.uid,
            title: r.title,
            condition: r.condition,
            data: r.data.map((q) => ({ refId: q.refId, relativeTimeRange: q.relativeTimeRange ?? { from: 600, to: 0 }, datasourceUid: q.datasourceUid, model: q.model })),
            noDataState: r.noDataState,
            execErrState: r.execErrState,
            for: r.for,
            labels: r.labels,
            annotations: r.annotations,
            isPaused: false,
          };
        }),
      },
    ],
  };
}

/** Contact points from config, and the policy that sends every alert to all of them. */
export function contactPointsFile(points: ContactPointConfig[]) {
  const receiver = "platform";
  const receivers = points.map((p) => {
    const uid = `cp-${p.name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`.slice(0, 40);
    switch (p.type) {
      case "webhook":
        return { uid, type: "webhook", settings: { url: p.url, httpMethod: "POST" }, disableResolveMessage: false };
      case "email":
        return { uid, type: "email", settings: { addresses: (p.addresses ?? []).join(";"), singleEmail: true }, disableResolveMessage: false };
      default:
        // The schema refuses other types; this keeps a new enum member from slipping through unhandled.
        throw new Error(`monitoring.contactPoints: unknown contact point type ${(p as { type: string }).type}`);
    }
  });
  return {
    apiVersion: 1,
    // Without a configured contact point alerts still show in Grafana; the receiver then has no integrations.
    contactPoints: receivers.length ? [{ orgId: 1, name: receiver, receivers }] : [],
    policies: receivers.length ? [{ orgId: 1, receiver, group_by: ["grafana_folder", "alertname"], group_wait: "30s", group_interval: "5m", repeat_interval: "4h" }] : [],
  };
}
