// The cloud-init user-data every Hetzner server boots with, rendered by the same script the sandbox uses.
import { execFileSync } from "child_process";
import * as path from "path";
import { FILES_DIR } from "../files";

let rendered: string | undefined;
export function cloudInitUserData(): string {
  rendered ??= execFileSync("bash", [path.join(FILES_DIR, "cloud-init", "render.sh")], { encoding: "utf8" });
  return rendered;
}
