// A stand-in for GitLab's REST API v4 runner endpoints, answering with the status codes and bodies GitLab's
// documentation gives (docs.gitlab.com/api/users/#create-a-runner-linked-to-a-user, /api/runners/):
//   POST /api/v4/user/runners → 201 { id, token: "glrt-…", token_expires_at } | 400 | 401 | 403 | 404 | 500
//   GET/PUT/DELETE /api/v4/runners/:id → 200 | 204 | 404
// Used by tests/unit/gitlab-runner.test.ts (in process) and tests/real/gitlab-runner.sh (as a process:
// `node tests/support/fake-gitlab.js PORTFILE LOGFILE`). Tokens it treats specially:
//   glpat-expired… → 401, glpat-read-api-only… → 403; group_id 500 → 500, group_id 404404 → 404.
// Test control (not GitLab API): POST /_test/delete/:id removes a runner as GitLab's UI would; POST
// /_test/revoke with the token as a JSON string body revokes it (every later call with it → 401), as revoking a personal
// access token in GitLab's UI does. It omits everything else of GitLab (users, scopes beyond the two above,
// token expiry dates, pagination).
"use strict";
const http = require("http");
const fs = require("fs");

const RUNNER_TOKEN = "glrt-t1_fakeRunnerToken0123456789";

function startFakeGitlab(opts = {}) {
  const state = { calls: [], runners: new Map(), nextId: 9171, url: "", revoked: new Set() };
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      const token = req.headers["private-token"];
      const body = raw ? JSON.parse(raw) : undefined;
      const path = req.url || "";
      const call = { method: req.method, path, token, body };
      state.calls.push(call);
      if (opts.log) fs.appendFileSync(opts.log, JSON.stringify(call) + "\n");
      const send = (status, payload) => {
        res.writeHead(status, payload === undefined ? {} : { "Content-Type": "application/json" });
        res.end(payload === undefined ? undefined : JSON.stringify(payload));
      };
      // Test control: remove a runner as someone would in GitLab's UI.
      const ui = /^\/_test\/delete\/(\d+)$/.exec(path);
      if (ui) return send(state.runners.delete(Number(ui[1])) ? 204 : 404);
      if (path === "/_test/revoke") {
        state.revoked.add(String(body));
        return send(204);
      }
      if (!token || token.startsWith("glpat-expired") || state.revoked.has(token)) return send(401, { message: "401 Unauthorized" });
      if (token.startsWith("glpat-read-api-only")) return send(403, { message: "403 Forbidden" });
      if (req.method === "POST" && path === "/api/v4/user/runners") {
        if (body.runner_type === "group_type" && body.group_id === undefined) return send(400, { error: "group_id is missing" });
        if (body.group_id === 500) return send(500, { message: "500 Internal Server Error" });
        if (body.group_id === 404404) return send(404, { message: "404 Group Not Found" });
        const id = state.nextId++;
        state.runners.set(id, { id, description: body.description, tag_list: body.tag_list, run_untagged: body.run_untagged, locked: body.locked, access_level: body.access_level, maximum_timeout: body.maximum_timeout, paused: body.paused, runner_type: body.runner_type });
        return send(201, { id, token: RUNNER_TOKEN, token_expires_at: null });
      }
      const m = /^\/api\/v4\/runners\/(\d+)$/.exec(path);
      if (m) {
        const id = Number(m[1]);
        const runner = state.runners.get(id);
        if (!runner) return send(404, { message: "404 Runner Not Found" });
        if (req.method === "GET") return send(200, runner);
        if (req.method === "PUT") {
          if (typeof body.maximum_timeout === "number" && body.maximum_timeout < 600) return send(400, { message: { maximum_timeout: ["needs to be at least 10 minutes"] } });
          Object.assign(runner, body);
          return send(200, runner);
        }
        if (req.method === "DELETE") {
          state.runners.delete(id);
          return send(204);
        }
      }
      send(404, { message: "404 Not Found" });
    });
  });
  return new Promise((resolve) =>
    server.listen(opts.port || 0, "127.0.0.1", () => {
      state.url = `http://127.0.0.1:${server.address().port}`;
      resolve({ state, close: () => new Promise((r) => server.close(() => r())) });
    }),
  );
}

module.exports = { startFakeGitlab, RUNNER_TOKEN };

if (require.main === module) {
  const [portFile, log] = process.argv.slice(2);
  startFakeGitlab({ log }).then(({ state }) => fs.writeFileSync(portFile, state.url));
}
