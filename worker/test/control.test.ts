// Server-side control (issue 16): service scopes, GET presence, POST disconnect, blocks that
// survive eviction, and MAX_SESSION_SECONDS, all inside workerd with the real Durable Object.
import { evictDurableObject, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WebSocketServer } from "../src/do";
import { Client, connect, connectHalfOpen, errorOf, framesBefore, orgStub, token, upgradeHeaders, userToken } from "./helpers";

const base = "https://router.test/orgs";

/** A service token for `org` with the scope claim `scope` (any JSON value; undefined leaves it out). */
const serviceToken = (scope: unknown, org: string) => token({ scope, sub: "backend", orgId: org, userId: undefined, role: undefined });
const ALL = "publish presence disconnect";

async function presence(org: string, tok?: string): Promise<Response> {
  return SELF.fetch(`${base}/${org}/presence`, { headers: { Authorization: `Bearer ${tok ?? (await serviceToken("presence", org))}` } });
}

async function disconnect(org: string, body: BodyInit, tok?: string): Promise<Response> {
  return SELF.fetch(`${base}/${org}/disconnect`, {
    method: "POST",
    headers: { Authorization: `Bearer ${tok ?? (await serviceToken("disconnect", org))}` },
    body,
  });
}

async function usersOf(org: string): Promise<unknown> {
  const res = await presence(org);
  expect(res.status).toBe(200);
  return ((await res.json()) as { users: unknown }).users;
}

/** A handshake for `user`; resolves with the status and reason when it is refused. */
async function handshake(user: string, org: string, tok?: string): Promise<[number, string]> {
  const res = await SELF.fetch(`${base}/${org}/ws`, { headers: upgradeHeaders({ Authorization: `Bearer ${tok ?? (await userToken(user, org))}` }) });
  if (res.status === 101) {
    const c = new Client(res.webSocket!, res);
    await c.next();
    c.close();
    return [101, ""];
  }
  return errorOf(res);
}

async function online(user: string, org: string, role = "member"): Promise<Client> {
  const c = await connect(await userToken(user, org, role), org);
  await c.next();
  return c;
}

describe("service scopes", () => {
  const routes: [string, (org: string, tok: string) => Promise<Response>][] = [
    ["publish", (org, tok) => SELF.fetch(`${base}/${org}/publish`, { method: "POST", headers: { Authorization: `Bearer ${tok}` }, body: '{"data":1}' })],
    ["presence", (org, tok) => presence(org, tok)],
    ["disconnect", (org, tok) => disconnect(org, '{"userId":"nobody","code":4001}', tok)],
  ];
  const granting: [string, unknown][] = [
    ["the route's name alone", "<route>"],
    ["all three", ALL],
    ["with an unknown name", "future_thing <route>"],
    ["a duplicate", "<route> <route>"],
    ["sixteen names", [..."abcdefghijklmno"].join(" ") + " <route>"],
  ];
  const refused: [string, unknown][] = [
    ["another route's name", "other"],
    ["no scope (a handshake-shaped service token)", undefined],
    ["null", null],
    ["empty", ""],
    ["a leading space", " <route>"],
    ["a trailing space", "<route> "],
    ["a double space", "other  <route>"],
    ["upper case", "<ROUTE>"],
    ["a comma list", "other,<route>"],
    ["a tab", "other\t<route>"],
    ["an array", ["<route>"]],
    ["a number", 1],
    ["seventeen names", [..."abcdefghijklmnop"].join(" ") + " <route>"],
    ["a 33-character name", "x".repeat(33) + " <route>"],
    ["a prefix of the name", "<route>s"],
  ];
  const fill = (scope: unknown, route: string): unknown =>
    typeof scope === "string" ? scope.replaceAll("<route>", route).replaceAll("<ROUTE>", route.toUpperCase())
    : Array.isArray(scope) ? scope.map((s) => fill(s, route)) : scope;

  for (const [route, call] of routes) {
    const org = `org-scope-${route}`;
    it.each(granting)(`${route}: grants %s`, async (_name, scope) => {
      const res = await call(org, await serviceToken(fill(scope, route), org));
      expect(res.status).toBe(200);
    });
    it.each(refused)(`${route}: refuses %s with 401 wrong_scope`, async (_name, scope) => {
      expect(await errorOf(await call(org, await serviceToken(fill(scope, route), org)))).toEqual([401, "wrong_scope"]);
    });
    it(`${route}: refuses a handshake token, a replayed token and another org's token`, async () => {
      expect(await errorOf(await call(org, await userToken("alice", org)))).toEqual([401, "wrong_scope"]);
      const tok = await serviceToken(ALL, org);
      expect((await call(org, tok)).status).toBe(200);
      expect(await errorOf(await call(org, tok))).toEqual([401, "replayed"]);
      expect(await errorOf(await call(org, await serviceToken(ALL, "elsewhere")))).toEqual([403, "org_mismatch"]);
    });
  }

  it("a service token never opens a socket", async () => {
    expect(await handshake("alice", "org-scope-ws", await token({ scope: ALL, orgId: "org-scope-ws" }))).toEqual([401, "wrong_scope"]);
  });

  it("answers other methods with 405 and Allow, and a missing token with 401", async () => {
    let res = await SELF.fetch(`${base}/org-m/presence`, { method: "POST", headers: { Authorization: `Bearer ${await serviceToken(ALL, "org-m")}` } });
    expect(await errorOf(res)).toEqual([405, "method_not_allowed"]);
    expect(res.headers.get("Allow")).toBe("GET");
    res = await SELF.fetch(`${base}/org-m/disconnect`, { headers: { Authorization: `Bearer ${await serviceToken(ALL, "org-m")}` } });
    expect(await errorOf(res)).toEqual([405, "method_not_allowed"]);
    expect(res.headers.get("Allow")).toBe("POST");
    expect(await errorOf(await SELF.fetch(`${base}/org-m/presence`))).toEqual([401, "missing_token"]);
    expect(await errorOf(await SELF.fetch(`${base}/org-m/disconnect`, { method: "POST", body: "{}" }))).toEqual([401, "missing_token"]);
  });

  // As the Go edge (routes.go's edge echoes it before any handler) and as this Worker's own
  // refusals and pre-flight do: a page on an allowed origin that may read a refusal may read
  // the answer too, so the twins answer the same headers for every outcome.
  it("echoes an allowed Origin on every service answer, 200 included", async () => {
    const origin = { Origin: "https://app.test" };
    const answers: [string, Response][] = [
      ["publish", await SELF.fetch(`${base}/org-cors/publish`, { method: "POST", headers: { ...origin, Authorization: `Bearer ${await serviceToken(ALL, "org-cors")}` }, body: '{"data":1}' })],
      ["presence", await SELF.fetch(`${base}/org-cors/presence`, { headers: { ...origin, Authorization: `Bearer ${await serviceToken(ALL, "org-cors")}` } })],
      ["disconnect", await SELF.fetch(`${base}/org-cors/disconnect`, { method: "POST", headers: { ...origin, Authorization: `Bearer ${await serviceToken(ALL, "org-cors")}` }, body: '{"userId":"nobody","code":4001}' })],
      ["refused", await SELF.fetch(`${base}/org-cors/presence`, { headers: origin })],
    ];
    for (const [name, res] of answers) {
      expect([name, res.headers.get("Access-Control-Allow-Origin"), res.headers.get("Vary")]).toEqual([name, "https://app.test", "Origin"]);
    }
    const evil = await SELF.fetch(`${base}/org-cors/presence`, { headers: { Origin: "https://evil.test", Authorization: `Bearer ${await serviceToken(ALL, "org-cors")}` } });
    expect([evil.status, evil.headers.get("Access-Control-Allow-Origin")]).toEqual([200, null]);
  });
});

describe("GET presence", () => {
  it("is exact across joins and leaves, sorted by user id, the list a new socket's welcome shows", async () => {
    const org = "org-presence-api";
    const empty = await presence(org);
    expect(empty.headers.get("Cache-Control")).toBe("no-store");
    expect(await empty.json()).toEqual({ users: [] });

    const zoe = await online("zoe", org, "admin");
    const al1 = await online("al", org, "admin");
    const al2 = await online("al", org, "member");
    const bo = await online("bo", org);
    expect(await usersOf(org)).toEqual([
      { userId: "al", role: "admin", connections: 2 },
      { userId: "bo", role: "member", connections: 1 },
      { userId: "zoe", role: "admin", connections: 1 },
    ]);
    const probe = await connect(await userToken("probe", org), org);
    const welcome = await probe.next<{ presence: unknown[] }>();
    expect(welcome.presence).toEqual([
      { userId: "al", role: "admin" },
      { userId: "bo", role: "member" },
      { userId: "probe", role: "member" },
      { userId: "zoe", role: "admin" },
    ]);
    probe.close();
    await probe.closed;

    // The oldest socket leaves: the user's role is now their oldest present socket's.
    al1.close();
    await al1.closed;
    zoe.close();
    await zoe.closed;
    expect(await usersOf(org)).toEqual([
      { userId: "al", role: "member", connections: 1 },
      { userId: "bo", role: "member", connections: 1 },
    ]);
    // The welcome's list, edited in place, says the same.
    const probe2 = await connect(await userToken("probe", org), org);
    expect((await probe2.next<{ presence: unknown[] }>()).presence).toEqual([
      { userId: "al", role: "member" },
      { userId: "bo", role: "member" },
      { userId: "probe", role: "member" },
    ]);
    probe2.close();
    await probe2.closed;
    al2.close();
    await al2.closed;
    bo.close();
    await bo.closed;
    expect(await usersOf(org)).toEqual([]);
  });
});

describe("POST disconnect", () => {
  it("closes only that user's sockets in that org, with the code, and takes them out of presence", async () => {
    const org = "org-disc";
    const a1 = await online("ann", org);
    const a2 = await online("ann", org);
    const b = await online("ben", org);
    const elsewhere = await online("ann", "org-disc-other");
    await a1.next(); // join ben
    await a2.next();

    const res = await disconnect(org, '{"userId":"ann","code":4003}');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ disconnected: 2 });
    for (const c of [a1, a2]) {
      const e = await c.closed;
      expect([e.code, e.reason]).toEqual([4003, "revoked"]);
    }
    expect(await b.next()).toEqual({ type: "presence", event: "leave", userId: "ann", role: "member" });
    expect(await framesBefore(b)).toEqual([]);
    expect(await framesBefore(elsewhere)).toEqual([]);
    expect(await usersOf(org)).toEqual([{ userId: "ben", role: "member", connections: 1 }]);
    expect(await usersOf("org-disc-other")).toEqual([{ userId: "ann", role: "member", connections: 1 }]);

    // No block: ann may come back at once. 4001 carries reauth_required.
    const again = await online("ann", org);
    expect(await b.next()).toMatchObject({ event: "join", userId: "ann" });
    expect(await (await disconnect(org, '{"userId":"ann","code":4001,"blockSeconds":0}')).json()).toEqual({ disconnected: 1 });
    const e = await again.closed;
    expect([e.code, e.reason]).toEqual([4001, "reauth_required"]);
    expect(await handshake("ann", org)).toEqual([101, ""]);

    // A user with no sockets is 0, not an error.
    expect(await (await disconnect(org, '{"userId":"nobody","code":4001}')).json()).toEqual({ disconnected: 0 });
    b.close();
    elsewhere.close();
  });

  it("counts the sockets it closed: one the server was already closing leaves but is not counted", async () => {
    const org = "org-disc-closing";
    const w = await online("watcher", org);
    const slow = await connectHalfOpen(await userToken("fay", org), org);
    await slow.next();
    const open = await online("fay", org);
    expect(await w.next()).toMatchObject({ event: "join", userId: "fay" });
    // The server closes one socket (1009); its peer never answers, so it is still closing.
    slow.send({ type: "broadcast", data: "x".repeat(70 * 1024) });
    expect((await slow.closed).code).toBe(1009);
    expect(await (await disconnect(org, '{"userId":"fay","code":4001}')).json()).toEqual({ disconnected: 1 });
    expect((await open.closed).code).toBe(4001);
    expect(await w.next()).toEqual({ type: "presence", event: "leave", userId: "fay", role: "member" });
    expect(await usersOf(org)).toEqual([{ userId: "watcher", role: "member", connections: 1 }]);
    slow.ws.close(1000);
    expect(await framesBefore(w)).toEqual([]);
    w.close();
  });

  const bad: [string, BodyInit][] = [
    ["no userId", '{"code":4001}'],
    ["no code", '{"userId":"ann"}'],
    ["userId null", '{"userId":null,"code":4001}'],
    ["userId a number", '{"userId":5,"code":4001}'],
    ["userId not an id", '{"userId":"ann smith","code":4001}'],
    ["userId empty", '{"userId":"","code":4001}'],
    ["code 1000", '{"userId":"ann","code":1000}'],
    ["code 4000", '{"userId":"ann","code":4000}'],
    ["code a string", '{"userId":"ann","code":"4001"}'],
    ["code null", '{"userId":"ann","code":null}'],
    ["blockSeconds null", '{"userId":"ann","code":4001,"blockSeconds":null}'],
    ["blockSeconds negative", '{"userId":"ann","code":4001,"blockSeconds":-1}'],
    ["blockSeconds a fraction", '{"userId":"ann","code":4001,"blockSeconds":1.5}'],
    ["blockSeconds 3601", '{"userId":"ann","code":4001,"blockSeconds":3601}'],
    ["blockSeconds a string", '{"userId":"ann","code":4001,"blockSeconds":"60"}'],
    ["an unknown key", '{"userId":"ann","code":4001,"reason":"x"}'],
    ["a case variant", '{"userid":"ann","code":4001}'],
    ["a case-variant duplicate", '{"userId":"ann","UserId":"ben","code":4001}'],
    ["a duplicate key", '{"userId":"ann","userId":"ben","code":4001}'],
    ["a duplicate inside a value", '{"userId":"ann","code":4001,"x":{"a":1,"a":2}}'],
    ["an array", '[{"userId":"ann","code":4001}]'],
    ["null", "null"],
    ["empty", ""],
    ["a BOM", '\ufeff{"userId":"ann","code":4001}'],
    ["trailing bytes", '{"userId":"ann","code":4001} {}'],
    ["invalid UTF-8", new Uint8Array([...new TextEncoder().encode('{"userId":"ann","code":4001,"x":"'), 0xff, 0x22, 0x7d])],
  ];

  it.each(bad)("refuses %s with 400 bad_request and closes nothing", async (_name, body) => {
    const org = "org-disc-bad";
    const c = await online("ann", org);
    expect(await errorOf(await disconnect(org, body))).toEqual([400, "bad_request"]);
    expect(await framesBefore(c)).toEqual([]);
    c.close();
    await c.closed;
  });

  it("accepts code and blockSeconds by value (4001.0, 6e1)", async () => {
    expect(await (await disconnect("org-disc-num", '{"userId":"ann","code":4001.0,"blockSeconds":6e1}')).json()).toEqual({ disconnected: 0 });
    const until = await runInDurableObject(orgStub("org-disc-num"), (i: WebSocketServer) => i.blocks.until("ann"));
    expect(until! - Date.now()).toBeGreaterThan(55_000);
  });

  it("answers 413 body_too_large over 64 KiB", async () => {
    const body = `{"userId":"ann","code":4001,"x":"${"y".repeat(64 * 1024)}"}`;
    expect(await errorOf(await disconnect("org-disc-big", body))).toEqual([413, "body_too_large"]);
  });
});

describe("blocks", () => {
  it("refuse the user's handshakes in that org with 403 revoked until they expire, pre-flight too", async () => {
    const org = "org-block";
    const blockSeconds = 2;
    expect(await (await disconnect(org, `{"userId":"cy","code":4003,"blockSeconds":${blockSeconds}}`)).json()).toEqual({ disconnected: 0 });
    const until = (await runInDurableObject(orgStub(org), (i: WebSocketServer) => i.blocks.until("cy")))!;

    const tok = await userToken("cy", org);
    const pre = await SELF.fetch(`${base}/${org}/ws`, { headers: { Authorization: `Bearer ${tok}` } });
    expect(await errorOf(pre)).toEqual([403, "revoked"]);
    expect(await handshake("cy", org, tok)).toEqual([403, "revoked"]);
    // The jti was spent before the block was checked: the same token is now a replay at the
    // handshake, but the pre-flight (which a browser asks with that spent token) still says revoked.
    expect(await handshake("cy", org, tok)).toEqual([401, "replayed"]);
    expect(await errorOf(await SELF.fetch(`${base}/${org}/ws`, { headers: { Authorization: `Bearer ${tok}` } }))).toEqual([403, "revoked"]);
    // Other users of the org, and the same user in other orgs, are unaffected.
    expect(await handshake("dee", org)).toEqual([101, ""]);
    expect(await handshake("cy", "org-block-other")).toEqual([101, ""]);

    // Once the block has run out (its own expiry, not a faked clock), cy connects again.
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()) + 20));
    expect(await handshake("cy", org)).toEqual([101, ""]);
  });

  it("are never shortened by a later call, and blockSeconds 0 lifts none", async () => {
    const org = "org-block-long";
    const stub = orgStub(org);
    await disconnect(org, '{"userId":"cy","code":4003,"blockSeconds":600}');
    const long = await runInDurableObject(stub, (i: WebSocketServer) => i.blocks.until("cy"));
    await disconnect(org, '{"userId":"cy","code":4003,"blockSeconds":1}');
    await disconnect(org, '{"userId":"cy","code":4001,"blockSeconds":0}');
    expect(await runInDurableObject(stub, (i: WebSocketServer) => i.blocks.until("cy"))).toBe(long);
    expect(await handshake("cy", org)).toEqual([403, "revoked"]);
  });

  it("survive the Durable Object being evicted (sockets hibernated, memory gone)", async () => {
    const org = "org-block-evict";
    const stub = orgStub(org);
    const w = await online("watcher", org);
    await disconnect(org, '{"userId":"cy","code":4003,"blockSeconds":600}');
    await runInDurableObject(stub, (i) => {
      (i as unknown as { marker: boolean }).marker = true;
    });
    await evictDurableObject(stub);
    // A new instance: the marker in memory is gone, the block in SQLite is not.
    expect(await runInDurableObject(stub, (i) => (i as unknown as { marker?: boolean }).marker)).toBeUndefined();
    expect(await handshake("cy", org)).toEqual([403, "revoked"]);
    // The hibernated socket is still there and still a member.
    expect(await usersOf(org)).toEqual([{ userId: "watcher", role: "member", connections: 1 }]);
    w.close();
  });
});

describe("MAX_SESSION_SECONDS", () => {
  it("closes a socket with 4001 reauth_required at accept + max × uniform(0.9, 1.1), on the alarm", async () => {
    const org = "org-session";
    const stub = orgStub(org);
    const w = await online("watcher", org); // before the change: no deadline
    await runInDurableObject(stub, (i: WebSocketServer) => {
      i.limits = { ...i.limits, maxSessionSeconds: 1 };
    });
    const before = Date.now();
    const c = await online("short", org);
    expect(await w.next()).toMatchObject({ event: "join", userId: "short" });
    const [deadline, alarm] = await runInDurableObject(stub, async (_i, state) => [
      (state.getWebSockets("short")[0].deserializeAttachment() as { deadline: number }).deadline,
      await state.storage.getAlarm(),
    ]);
    expect(deadline).toBeGreaterThanOrEqual(before + 900);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 1100);
    // The alarm is brought forward to the deadline (it would otherwise run 30 s later).
    expect(alarm).toBe(deadline);

    const e = await c.closed;
    expect([e.code, e.reason]).toEqual([4001, "reauth_required"]);
    expect(Date.now()).toBeGreaterThanOrEqual(deadline);
    expect(await w.next()).toEqual({ type: "presence", event: "leave", userId: "short", role: "member" });
    // The socket without a deadline stays; the alarm goes back to its ping period.
    expect(await framesBefore(w)).toEqual([]);
    expect(await usersOf(org)).toEqual([{ userId: "watcher", role: "member", connections: 1 }]);
    w.close();
  });

  it("spreads deadlines over ±10%", async () => {
    const org = "org-session-jitter";
    const stub = orgStub(org);
    await runInDurableObject(stub, (i: WebSocketServer) => {
      i.limits = { ...i.limits, maxSessionSeconds: 3600 };
    });
    const socks: Client[] = [];
    for (let n = 0; n < 12; n++) socks.push(await online(`u${n}`, org));
    const offsets = await runInDurableObject(stub, (_i, state) =>
      state.getWebSockets().map((ws) => {
        const a = ws.deserializeAttachment() as { deadline: number; connectedAt: number };
        return (a.deadline - a.connectedAt) / 1000;
      }),
    );
    for (const o of offsets) {
      expect(o).toBeGreaterThanOrEqual(3240);
      expect(o).toBeLessThanOrEqual(3960);
    }
    // Twelve draws of a uniform over 720 s: all in one second would be a broken jitter.
    expect(Math.max(...offsets) - Math.min(...offsets)).toBeGreaterThan(1);
    for (const s of socks) s.close();
  });
});
