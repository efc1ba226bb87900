// InfluxQL queries as Grafana data queries. The foundation SDK has no InfluxDB query builder, so this is
// the one small cog.Builder for it: a raw InfluxQL text with Grafana's macros ($timeFilter, $__interval),
// which is what the InfluxDB datasource runs in InfluxQL mode. Dashboards and alert rules both use it, and
// tests/real/monitoring.sh runs every such query against a real InfluxDB after expanding the macros.
import * as cog from "@grafana/grafana-foundation-sdk/cog";

/** The datasource every dashboard and rule queries; its uid is fixed so provisioning files can refer to it. */
export const DATASOURCE_UID = "mbio-influxdb";
export const DATASOURCE = { type: "influxdb", uid: DATASOURCE_UID };

export interface InfluxQuery extends cog.Dataquery {
  refId: string;
  datasource: { type: string; uid: string };
  query: string;
  rawQuery: true;
  resultFormat: "time_series" | "table";
  alias?: string;
}

export class InfluxQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly q: Omit<InfluxQuery, "_implementsDataqueryVariant">;

  constructor(query: string, refId = "A") {
    this.q = { refId, datasource: DATASOURCE, query, rawQuery: true, resultFormat: "time_series" };
  }
  refId(refId: string): this {
    this.q.refId = refId;
    return this;
  }
  table(): this {
    this.q.resultFormat = "table";
    return this;
  }
  alias(alias: string): this {
    this.q.alias = alias;
    return this;
  }
  build(): InfluxQuery {
    // cog marks data query variants with this method; it is a type tag only and never serialised.
    const tag: Pick<cog.Dataquery, "_implementsDataqueryVariant"> = { _implementsDataqueryVariant: () => undefined };
    return { ...this.q, ...tag };
  }
}

/** `influxql("SELECT …")`, the short form used by the dashboards and rules. */
export const influxql = (query: string, refId = "A") => new InfluxQueryBuilder(query, refId);

/**
 * Expands Grafana's InfluxQL macros the way the datasource does for a relative range ending now, so the
 * exact query text of a panel or rule can be run with `influx -execute` (tests, operators debugging).
 */
export function expandMacros(query: string, rangeSeconds: number, intervalSeconds = 10): string {
  return query
    .replace(/\$timeFilter/g, `time >= now() - ${rangeSeconds}s`)
    .replace(/\$__interval/g, `${intervalSeconds}s`);
}
