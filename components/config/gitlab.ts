// Config of the environment's GitLab runner (`mbio-cloud:gitlab`). The admin token that creates the runner is
// not here: it is the Pulumi secret mbio-cloud:gitlabToken (or the GITLAB_TOKEN environment variable).
import { z } from "zod";

/**
 * GitLab personal, group and project access tokens all start with glpat-. A runner authentication token
 * (glrt-), a registration token (GR1348941…) or a CI job token cannot create runners, so the loader refuses
 * them by shape before anything is created, without echoing the value.
 */
export const ADMIN_TOKEN_SHAPE = /^glpat-[A-Za-z0-9_.-]{20,}$/;
export const ADMIN_TOKEN_ENV = "GITLAB_TOKEN";

const whole = (min: number, max: number, what: string) =>
  z
    .number({ message: `must be a whole number from ${min} to ${max} (${what})` })
    .int({ message: `must be a whole number from ${min} to ${max} (${what})` })
    .min(min, { message: `must be a whole number from ${min} to ${max} (${what})` })
    .max(max, { message: `must be a whole number from ${min} to ${max} (${what})` });

const TAG = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export const gitlabSchema = z
  .strictObject({
    // false: no runner in this environment (the local sandbox has no GitLab; docs/ci.md).
    enabled: z.boolean({ message: "must be true or false" }),
    url: z.string().regex(/^https?:\/\/[^\s/]+(:\d+)?\/?$/, { message: "must be the http(s) URL of the GitLab instance, e.g. https://gitlab.com" }).optional(),
    // Exactly one of the two: the runner is a group runner or a project runner.
    groupId: whole(1, Number.MAX_SAFE_INTEGER, "the numeric id of the GitLab group, Settings → General").optional(),
    projectId: whole(1, Number.MAX_SAFE_INTEGER, "the numeric id of the GitLab project, Settings → General").optional(),
    // Jobs this environment's runner runs at once (config.toml `concurrent`).
    concurrency: whole(1, 50, "jobs the runner runs at once").default(2),
    // Tags the runner answers to; jobs pick the environment's runner with `tags: [<environment>]`.
    tags: z.array(z.string().regex(TAG, { message: "tags are lowercase letters, digits, . _ - (at most 63)" })).min(1, { message: "must list at least one tag" }).optional(),
    // ref_protected: only pipelines of protected branches and tags (the default for production).
    accessLevel: z.enum(["not_protected", "ref_protected"], { message: "must be not_protected or ref_protected (only protected branches and tags)" }).optional(),
    // GitLab refuses a maximum timeout below 10 minutes.
    maximumTimeout: whole(600, 7 * 24 * 3600, "seconds a job may run; GitLab's minimum is 600").default(3600),
    // The runner and its jobs run on CI nodes only (node label mbio.role=ci, mbio-cloud:ciNodes); kept as a key
    // so an old stack file's worker/manager is refused with the reason rather than as an unknown key.
    nodeRole: z.literal("ci", { message: "must be ci (or absent): the runner and its jobs run only on CI nodes (mbio-cloud:ciNodes), where no platform secret is; workers and managers hold them (docs/security.md)" }).optional(),
    docker: z
      .strictObject({
        // Jobs that name no image; must be pinned. Default: the runner's own pinned image.
        defaultImage: z.string().optional(),
        // Job containers get the host's docker socket. Off by default: the socket is root on the CI node and
        // its Swarm worker identity. Image builds use a per-job Docker-in-Docker service (docs/ci.md).
        socketInJobs: z.boolean({ message: "must be true or false" }).default(false),
        privileged: z.boolean({ message: "must be true or false" }).default(false),
      })
      .default({ socketInJobs: false, privileged: false }),
  })
  .superRefine((g, ctx) => {
    if (!g.enabled) return;
    if (!g.url) ctx.addIssue({ code: "custom", path: ["url"], message: "required when gitlab.enabled is true: the URL of the GitLab instance, e.g. https://gitlab.com" });
    if (g.groupId === undefined && g.projectId === undefined) {
      ctx.addIssue({ code: "custom", path: ["groupId"], message: "required when gitlab.enabled is true (or gitlab.projectId): the numeric id of the GitLab group whose pipelines this runner serves" });
    }
    if (g.groupId !== undefined && g.projectId !== undefined) {
      ctx.addIssue({ code: "custom", path: ["projectId"], message: "set either gitlab.groupId (a group runner) or gitlab.projectId (a project runner), not both" });
    }
  })
  .default({ enabled: false, concurrency: 2, maximumTimeout: 3600, docker: { socketInJobs: false, privileged: false } });

export type GitlabConfig = z.infer<typeof gitlabSchema>;
