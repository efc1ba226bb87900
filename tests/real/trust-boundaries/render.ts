// What tests/real/trust-boundaries.sh deploys, rendered by the components themselves: the backup stack's
// Compose document (its placement is what keeps the backup secrets off CI nodes) and the runner's
// config.toml (what a job container gets: volumes, privileges). Prints one JSON object.
//   node render.js AGENT_IMAGE SECRET_PREFIX
import { backupCompose } from "../../../components/s3-backup";
import { runnerConfigToml } from "../../../components/gitlab-runner";
import { gitlabSchema } from "../../../components/config/gitlab";
import { backupSchema } from "../../../components/config/data";

const [image, prefix] = process.argv.slice(2);
const backup = backupSchema.parse({ enabled: true, s3: { endpoint: "http://s3.invalid:7070", bucket: "backups" } });
// The stack files' runner settings with the schema's defaults: what a job gets unless the operator opts in.
const gitlab = gitlabSchema.parse({ enabled: true, url: "https://gitlab.invalid", groupId: 1 });
const secretNames = Object.fromEntries(["restic_password", "s3_access_key_id", "s3_secret_access_key"].map((k) => [k, `${prefix}-${k}`]));
const compose = backupCompose({ environment: "lab", backup, image, configNames: {}, secretNames });
const toml = runnerConfigToml({ environment: "lab", gitlab, url: gitlab.url!, runnerId: 1, token: "glrt-unused", defaultImage: image });
process.stdout.write(JSON.stringify({ compose, toml }));
