import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { connect, publishToken, token, upgradeHeaders, userToken } from "./helpers";

const url = (org = "acme", what = "ws") => `https://router.test/orgs/${org}/${what}`;

async function errorOf(res: Response): Promise<[number, string]> {
  return [res.status, ((await res.json()) as { error: string }).error];
}

describe("handshake", () => {
  it("answers /healthz", async () => {
    const res = await SELF.fetch("https://router.test/healthz");
    expect(res.status).toBe(200);
  });

  it("accepts the subprotocol token and selects office-router.v1, never the token", async () => {
    const c = await connect(await userToken("alice"), "acme", "subprotocol");
    expect(c.response.headers.get("Sec-WebSocket-Protocol")).toBe("office-router.v1");
    const w = await c.next();
    expect(w).toMatchObject({ type: "welcome", userId: "alice", orgId: "acme", role: "member" });
    c.close();
  });

  const cases: [string, () => Promise<RequestInit>, string, number, string][] = [
    ["no token", async () => ({ headers: upgradeHeaders() }), "acme", 401, "missing_token"],
    ["garbage token", async () => ({ headers: upgradeHeaders({ Authorization: "Bearer abc" }) }), "acme", 401, "malformed"],
    ["org mismatch", async () => ({ headers: upgradeHeaders({ Authorization: `Bearer ${await userToken("alice", "acme")}` }) }), "other", 403, "org_mismatch"],
    ["origin not allowed", async () => ({ headers: upgradeHeaders({ Origin: "https://evil.test", Authorization: `Bearer ${await userToken("alice")}` }) }), "acme", 403, "origin_not_allowed"],
    ["null origin", async () => ({ headers: upgradeHeaders({ Origin: "null", Authorization: `Bearer ${await userToken("alice")}` }) }), "acme", 403, "origin_not_allowed"],
    ["publish token cannot open a socket", async () => ({ headers: upgradeHeaders({ Authorization: `Bearer ${await publishToken()}` }) }), "acme", 401, "wrong_scope"],
    ["bad websocket version", async () => ({ headers: upgradeHeaders({ "Sec-WebSocket-Version": "8", Authorization: `Bearer ${await userToken("alice")}` }) }), "acme", 426, "unsupported_websocket_version"],
    ["bad websocket key", async () => ({ headers: upgradeHeaders({ "Sec-WebSocket-Key": "short", Authorization: `Bearer ${await userToken("alice")}` }) }), "acme", 400, "bad_handshake"],
    ["expired token", async () => ({ headers: upgradeHeaders({ Authorization: `Bearer ${await token({}, { ttl: -10 })}` }) }), "acme", 401, "expired"],
    ["invalid org path", async () => ({ headers: upgradeHeaders() }), "a%2Fb", 404, "not_found"],
  ];
  it.each(cases)("%s", async (_n, init, org, status, code) => {
    expect(await errorOf(await SELF.fetch(url(org), await init()))).toEqual([status, code]);
  });

  it("rejects a replayed token, remembered by the Durable Object", async () => {
    const tok = await userToken("bob");
    const c = await connect(tok);
    await c.next();
    const res = await SELF.fetch(url(), { headers: upgradeHeaders({ Authorization: `Bearer ${tok}` }) });
    expect(await errorOf(res)).toEqual([401, "replayed"]);
    // The pre-flight explains the refusal the browser only saw as 1006.
    const pre = await SELF.fetch(url(), { headers: { Authorization: `Bearer ${tok}` } });
    expect(await errorOf(pre)).toEqual([401, "replayed"]);
    c.close();
  });

  it("pre-flight checks without consuming the jti", async () => {
    const tok = await userToken("carol");
    const res = await SELF.fetch(url(), { headers: { Authorization: `Bearer ${tok}`, Origin: "https://app.test" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://app.test");
    expect(await res.json()).toMatchObject({ ok: true, userId: "carol", orgId: "acme", role: "member" });
    const bad = await SELF.fetch(url("other"), { headers: { Authorization: `Bearer ${tok}` } });
    expect(await errorOf(bad)).toEqual([403, "org_mismatch"]);
    const c = await connect(tok); // still usable
    await c.next();
    c.close();
  });

  it("ignores client-supplied identity headers", async () => {
    const tok = await userToken("dave");
    const res = await SELF.fetch(url(), { headers: upgradeHeaders({ Authorization: `Bearer ${tok}`, "X-Office-User-Id": "mallory", "X-Office-Role": "admin" }) });
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    const first = await new Promise<Record<string, unknown>>((r) => res.webSocket!.addEventListener("message", (e) => r(JSON.parse(e.data as string)), { once: true }));
    expect(first).toMatchObject({ userId: "dave", role: "member" });
    res.webSocket!.close(1000);
  });
});

describe("Durable Object protocol", () => {
  it("announces presence, broadcasts to others and keeps orgs apart", async () => {
    const a = await connect(await userToken("p-alice", "org-p"), "org-p");
    expect(await a.next()).toMatchObject({ type: "welcome", presence: [{ userId: "p-alice", role: "member" }] });
    const b = await connect(await userToken("p-bob", "org-p", "admin"), "org-p");
    const wb = await b.next<{ presence: { userId: string }[] }>();
    expect(wb.presence.map((p) => p.userId).sort()).toEqual(["p-alice", "p-bob"]);
    expect(await a.next()).toEqual({ type: "presence", event: "join", userId: "p-bob", role: "admin" });
    const x = await connect(await userToken("p-eve", "org-q"), "org-q");
    await x.next();

    a.send({ type: "broadcast", data: { hello: 1 } });
    expect(await b.next()).toEqual({ type: "message", from: "p-alice", data: { hello: 1 } });
    b.send({ type: "direct", to: "p-alice", data: "psst" });
    expect(await a.next()).toEqual({ type: "message", from: "p-bob", data: "psst", direct: true });
    // The other org saw none of it: its next frame is the answer to its own request.
    x.send("not json");
    expect(await x.next()).toEqual({ type: "error", code: "bad_message" });

    b.close();
    expect(await a.next()).toEqual({ type: "presence", event: "leave", userId: "p-bob", role: "admin" });
    a.close();
    x.close();
  });

  it("answers bad messages and closes oversized frames with 1009", async () => {
    const c = await connect(await userToken("big"));
    await c.next();
    c.send({ type: "nope" });
    expect(await c.next()).toEqual({ type: "error", code: "bad_message" });
    c.send("[1,2]");
    expect(await c.next()).toEqual({ type: "error", code: "bad_message" });
    c.send({ type: "broadcast", data: "x".repeat(70 * 1024) });
    expect((await c.closed).code).toBe(1009);
  });

  it("publishes backend events to the org or one user", async () => {
    const a = await connect(await userToken("pub-a", "org-pub"), "org-pub");
    await a.next();
    const b = await connect(await userToken("pub-b", "org-pub"), "org-pub");
    await b.next();
    await a.next(); // join of pub-b
    const send = async (body: unknown, org = "org-pub", tok?: string) =>
      SELF.fetch(url(org, "publish"), { method: "POST", headers: { Authorization: `Bearer ${tok ?? (await publishToken(org))}` }, body: JSON.stringify(body) });
    let res = await send({ data: { n: 1 } });
    expect(await res.json()).toEqual({ delivered: 2 });
    expect(await a.next()).toEqual({ type: "event", data: { n: 1 } });
    expect(await b.next()).toEqual({ type: "event", data: { n: 1 } });
    res = await send({ to: "pub-b", data: "only-b" });
    expect(await res.json()).toEqual({ delivered: 1 });
    expect(await b.next()).toEqual({ type: "event", data: "only-b" });
    expect(await errorOf(await send({ data: 1 }, "org-pub", await userToken("pub-a", "org-pub")))).toEqual([401, "wrong_scope"]);
    expect(await errorOf(await send({ data: 1 }, "org-pub", await publishToken("elsewhere")))).toEqual([403, "org_mismatch"]);
    expect(await errorOf(await send({ nodata: 1 }))).toEqual([400, "bad_request"]);
    expect(await errorOf(await send({ data: "x".repeat(70 * 1024) }))).toEqual([413, "body_too_large"]);
    a.close();
    b.close();
  });

  it("answers ping with pong without the protocol", async () => {
    const c = await connect(await userToken("pinger"));
    await c.next();
    c.ws.send("ping");
    expect(await c.next<unknown>()).toBe("pong");
    c.close();
  });
});
