// The power state of a Hetzner server (components/dynamic-providers/server-power.ts), against a stand-in of the two
// API calls it makes: refresh sees a server powered off by hand, up powers it on and waits for Hetzner's action.
import { serverPowerProvider } from "../../components/dynamic-providers/server-power";

const inputs = { endpoint: "http://api.test/v1", token: "t".repeat(64), serverId: 7 };

function fakeApi(initial: string) {
  const calls: string[] = [];
  let status = initial;
  let polls = 0;
  global.fetch = (async (url: string, init: RequestInit) => {
    const path = url.replace(inputs.endpoint, "");
    calls.push(`${init.method} ${path}`);
    expect((init.headers as Record<string, string>).Authorization).toBe(`Bearer ${inputs.token}`);
    const json = (body: unknown, code = 200) => new Response(JSON.stringify(body), { status: code });
    if (path === "/servers/7" && init.method === "GET") return json({ server: { id: 7, status } });
    if (path === "/servers/8") return json({ error: { code: "not_found", message: "server with ID '8' not found" } }, 404);
    if (path === "/servers/7/actions/poweron") return json({ action: { id: 99, status: "running" } }, 201);
    if (path === "/actions/99") {
      polls++;
      if (polls >= 2) status = "running";
      return json({ action: { id: 99, status: polls >= 2 ? "success" : "running" } });
    }
    return json({ error: { code: "not_found", message: path } }, 404);
  }) as typeof fetch;
  return calls;
}

describe("ServerPower", () => {
  const realFetch = global.fetch;
  afterEach(() => {
    global.fetch = realFetch;
  });

  test("read reports a server powered off by hand; diff then asks for an update", async () => {
    fakeApi("off");
    const read = await serverPowerProvider.read!("7", { ...inputs, status: "running" });
    expect(read.props?.status).toBe("off");
    const diff = await serverPowerProvider.diff!("7", read.props as never, inputs);
    expect(diff.changes).toBe(true);
    expect(diff.replaces).toEqual([]);
  });

  test("a running server: no change", async () => {
    fakeApi("running");
    const read = await serverPowerProvider.read!("7", { ...inputs, status: "running" });
    expect((await serverPowerProvider.diff!("7", read.props as never, inputs)).changes).toBe(false);
  });

  test("update powers the server on and waits for the action", async () => {
    const calls = fakeApi("off");
    const out = await serverPowerProvider.update!("7", { ...inputs, status: "off" }, inputs);
    expect(out.outs?.status).toBe("running");
    expect(calls).toEqual(["GET /servers/7", "POST /servers/7/actions/poweron", "GET /actions/99", "GET /actions/99", "GET /servers/7"]);
  });

  test("a deleted server has no power state left", async () => {
    fakeApi("running");
    expect(await serverPowerProvider.read!("8", { ...inputs, serverId: 8, status: "running" })).toEqual({});
  });
});
