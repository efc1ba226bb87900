// Shell that runs on servers lives in files under components/files/ (shellcheck-clean, idempotent);
// this module reads them and wraps them into commands for remote.Command.
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "fs";
import * as path from "path";

export const FILES_DIR = path.join(__dirname, "files");

const cache = new Map<string, string>();
/** The text of a file under components/files/, e.g. `swarm/init.sh`. */
export function scriptFile(relativePath: string): string {
  let text = cache.get(relativePath);
  if (text === undefined) {
    text = readFileSync(path.join(FILES_DIR, relativePath), "utf8");
    cache.set(relativePath, text);
  }
  return text;
}

// The one shell quoter (dynamic-providers/text.ts); re-exported for the components that quote with it.
import { shellQuote } from "./dynamic-providers/text";
export { shellQuote };

/**
 * A command line that runs a script file on the remote host with the given environment. The script is
 * passed as bash's -c argument so that stdin stays free for data (compose documents, dumps).
 * Values that are secret outputs keep the whole command secret in state.
 */
export function remoteScript(relativePath: string, env: Record<string, pulumi.Input<string | number | boolean>> = {}): pulumi.Output<string> {
  return pulumi.all(env).apply((values) => {
    const assignments = Object.entries(values)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${shellQuote(String(v))}`)
      .join(" ");
    const body = scriptFile(relativePath);
    return `${assignments ? `${assignments} ` : ""}bash -c "$(cat <<'MBIO_SCRIPT'\n${body}\nMBIO_SCRIPT\n)" ${shellQuote(path.basename(relativePath))}`;
  });
}
