// The one JSON canonicaliser and the one shell quoter of the program. Pure functions with no imports: the
// dynamic providers use them and are serialized into the state with them (closure serialization), and the
// components use the same ones, so a document's digest and the provider's comparisons agree.

/** Sorted-key JSON (undefined as null), so equal values compare and hash equally whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v === undefined ? null : v);
}

/** Quotes a value for a POSIX shell (single quotes; a quote inside becomes '\''). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
