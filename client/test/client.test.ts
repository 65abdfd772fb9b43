// Unit tests of the client's state machine with a fake WebSocket and a manual clock.
import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay, connect, preflightURL, type Access, type ConnectOptions, type Status } from "../src/office-router-client.js";

class FakeSocket {
  static OPEN = 1;
  static instances: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  constructor(readonly url: string, readonly protocols: string[]) {
    FakeSocket.instances.push(this);
  }
  send(s: string) {
    this.sent.push(s);
  }
  close(code = 1000, reason = "") {
    this.readyState = 3;
    void this.onclose?.({ code, reason });
  }
  // test helpers
  accept() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(msg: unknown) {
    this.onmessage?.({ data: typeof msg === "string" ? msg : JSON.stringify(msg) });
  }
  drop(code: number, reason = "") {
    this.readyState = 3;
    return this.onclose?.({ code, reason });
  }
}

function harness(preflightReason?: string, extra: Partial<ConnectOptions> = {}) {
  FakeSocket.instances = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const statuses: { s: Status; retryInMs?: number; reason?: string; code?: number }[] = [];
  let n = 0;
  const requested: string[] = [];
  const reauths: boolean[] = [];
  const rejected: string[] = [];
  const conn = connect({
    requestAccess: async ({ reauth }): Promise<Access> => {
      const a = { token: `tok${n++}`, url: "wss://router.test/orgs/acme/ws", expiresAt: 0 };
      requested.push(a.token);
      reauths.push(reauth);
      return a;
    },
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    fetch: (async (url: string) => {
      assert.equal(url, "https://router.test/orgs/acme/ws");
      return { ok: false, json: async () => ({ error: preflightReason }) };
    }) as unknown as typeof fetch,
    random: () => 0.5,
    setTimeout: (fn, ms) => timers.push({ fn, ms }),
    clearTimeout: () => {},
    onStatus: (s, d) => statuses.push({ s, ...d }),
    onRejected: (r) => rejected.push(r),
    connectTimeoutMs: 0,
    ...extra,
  });
  const flush = () => new Promise((r) => setImmediate(r));
  return { conn, timers, statuses, requested, reauths, rejected, flush };
}

test("opens with the token in the subprotocol list, never the URL", async () => {
  const h = harness();
  await h.flush();
  const ws = FakeSocket.instances[0];
  assert.deepEqual(ws.protocols, ["office-router.v1", "bearer.tok0"]);
  assert.equal(ws.url.includes("tok0"), false);
});

test("dispatches protocol frames and sends broadcast/direct", async () => {
  FakeSocket.instances = [];
  const got: string[] = [];
  const conn = connect({
    requestAccess: async () => ({ token: "t", url: "ws://r/orgs/o/ws", expiresAt: 0 }),
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    onWelcome: (w) => got.push(`welcome ${w.userId}`),
    onPresence: (p) => got.push(`${p.event} ${p.userId}`),
    onMessage: (m) => got.push(`message ${m.from} ${JSON.stringify(m.data)}${m.direct ? " direct" : ""}`),
    onEvent: (e) => got.push(`event ${JSON.stringify(e.data)}`),
    onError: (e) => got.push(`error ${e.code}`),
  });
  await new Promise((r) => setImmediate(r));
  const ws = FakeSocket.instances[0];
  ws.accept();
  ws.receive({ type: "welcome", userId: "alice", presence: [] });
  ws.receive({ type: "presence", event: "join", userId: "bob", role: "member" });
  ws.receive({ type: "message", from: "bob", data: { x: 1 } });
  ws.receive({ type: "message", from: "bob", data: 2, direct: true });
  ws.receive({ type: "event", data: "e" });
  ws.receive({ type: "error", code: "bad_message" });
  ws.receive("pong");
  ws.receive("not json");
  assert.deepEqual(got, ["welcome alice", "join bob", 'message bob {"x":1}', "message bob 2 direct", 'event "e"', "error bad_message"]);
  conn.broadcast({ hi: 1 });
  conn.direct("bob", "psst");
  assert.deepEqual(ws.sent.map((s) => JSON.parse(s)), [
    { type: "broadcast", data: { hi: 1 } },
    { type: "direct", to: "bob", data: "psst" },
  ]);
  conn.close();
  assert.equal(conn.status, "closed");
  assert.throws(() => conn.broadcast(1), /not connected/);
});

test("a refused handshake asks the pre-flight why, then retries with a fresh token", async () => {
  const h = harness("replayed");
  await h.flush();
  await FakeSocket.instances[0].drop(1006);
  await h.flush();
  assert.deepEqual(h.rejected, ["replayed"]);
  assert.equal(h.statuses.at(-1)?.s, "reconnecting");
  assert.equal(h.timers.length, 1);
  h.timers[0].fn();
  await h.flush();
  assert.deepEqual(h.requested, ["tok0", "tok1"], "every attempt fetches a fresh token");
  FakeSocket.instances[1].accept();
  assert.equal(h.conn.status, "open");
});

test("terminal reasons stop reconnecting", async () => {
  const h = harness("org_mismatch");
  await h.flush();
  await FakeSocket.instances[0].drop(1006);
  await h.flush();
  assert.equal(h.conn.status, "closed");
  assert.equal(h.timers.length, 0);
  assert.equal(h.statuses.at(-1)?.reason, "org_mismatch");
});

test("close codes: 1001 and 4008 reconnect, 1009 stops", async () => {
  for (const [code, want] of [[1001, "reconnecting"], [4008, "reconnecting"], [1011, "reconnecting"], [1009, "closed"], [1000, "closed"]] as const) {
    const h = harness();
    await h.flush();
    FakeSocket.instances[0].accept();
    await FakeSocket.instances[0].drop(code);
    assert.equal(h.conn.status, want, `close ${code}`);
  }
});

test("backoff grows exponentially with jitter and a cap, and resets after a success", async () => {
  assert.equal(backoffDelay(0, {}, () => 0), 250);
  assert.equal(backoffDelay(0, {}, () => 1), 500);
  assert.equal(backoffDelay(3, {}, () => 1), 4000);
  assert.equal(backoffDelay(20, {}, () => 1), 30000);
  assert.equal(backoffDelay(2, { initialMs: 100, factor: 3, jitter: 0 }, () => 0.9), 900);
  const h = harness("expired");
  await h.flush();
  for (let i = 0; i < 3; i++) {
    await FakeSocket.instances[i].drop(1006);
    await h.flush();
    h.timers[i].fn();
    await h.flush();
  }
  assert.deepEqual(h.timers.map((t) => t.ms), [375, 750, 1500]);
  FakeSocket.instances[3].accept();
  await FakeSocket.instances[3].drop(1001);
  assert.equal(h.timers.at(-1)?.ms, 375, "attempts reset after an open");
});

test("pre-flight URL keeps the path and switches the scheme", () => {
  assert.equal(preflightURL("wss://r.example/orgs/a/ws"), "https://r.example/orgs/a/ws");
  assert.equal(preflightURL("ws://127.0.0.1:8787/orgs/a/ws"), "http://127.0.0.1:8787/orgs/a/ws");
});

test("a refused or malformed requestAccess never opens a socket and reaches onRejected", async () => {
  const res = (status: number, body: unknown) =>
    ({ ok: status >= 200 && status < 300, status, json: async () => body }) as unknown as Response;
  const cases: { name: string; result: unknown; reason: string; want: Status }[] = [
    { name: "the README's old snippet: r.json() of a 401", result: { error: "invalid_token" }, reason: "request_access:invalid_token", want: "closed" },
    { name: "a 401 Response", result: res(401, { error: "missing_token" }), reason: "request_access:missing_token", want: "closed" },
    { name: "a 403 Response", result: res(403, { error: "no_organization" }), reason: "request_access:no_organization", want: "closed" },
    { name: "a 503 Response is retried", result: res(503, { error: "identity_provider_unavailable" }), reason: "request_access:identity_provider_unavailable", want: "reconnecting" },
    { name: "an expired session is retried", result: res(401, { error: "token_expired" }), reason: "request_access:token_expired", want: "reconnecting" },
    { name: "a non-JSON 502 is retried", result: { ok: false, status: 502, json: async () => { throw new SyntaxError("html"); } }, reason: "request_access:http_502", want: "reconnecting" },
    { name: "no token", result: { url: "wss://r/orgs/a/ws", expiresAt: 1 }, reason: "request_access:invalid_response", want: "closed" },
    { name: "no url", result: { token: "t", expiresAt: 1 }, reason: "request_access:invalid_response", want: "closed" },
    { name: "an http url", result: { token: "t", url: "https://r/orgs/a/ws" }, reason: "request_access:invalid_response", want: "closed" },
    { name: "undefined", result: undefined, reason: "request_access:invalid_response", want: "closed" },
    { name: "a 200 Response without a token", result: res(200, { url: "wss://r/orgs/a/ws" }), reason: "request_access:invalid_response", want: "closed" },
  ];
  for (const c of cases) {
    FakeSocket.instances = [];
    const rejected: string[] = [];
    const timers: unknown[] = [];
    const conn = connect({
      requestAccess: async () => c.result as Access,
      WebSocket: FakeSocket as unknown as typeof WebSocket,
      setTimeout: (fn, ms) => timers.push({ fn, ms }),
      clearTimeout: () => {},
      onRejected: (r) => rejected.push(r),
    });
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(FakeSocket.instances.length, 0, `${c.name}: no socket`);
    assert.deepEqual(rejected, [c.reason], c.name);
    assert.equal(conn.status, c.want, c.name);
    assert.equal(timers.length, c.want === "closed" ? 0 : 1, `${c.name}: retry timer`);
    if (c.want === "closed") assert.throws(() => conn.broadcast(1), /not connected/, c.name);
    conn.close();
  }
});

test("a successful Response is read as the Access body", async () => {
  FakeSocket.instances = [];
  connect({
    requestAccess: async () =>
      ({ ok: true, status: 200, json: async () => ({ token: "t1", url: "ws://r/orgs/o/ws", expiresAt: 1 }) }) as unknown as Response,
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    connectTimeoutMs: 0,
  });
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(FakeSocket.instances[0]?.url, "ws://r/orgs/o/ws");
  assert.deepEqual(FakeSocket.instances[0]?.protocols, ["office-router.v1", "bearer.t1"]);
});

test("a socket stuck connecting is closed after connectTimeoutMs and retried", async () => {
  const h = harness("expired", { connectTimeoutMs: 5000 });
  await h.flush();
  assert.deepEqual(h.timers.map((t) => t.ms), [5000]);
  h.timers[0].fn(); // the connect timeout fires: the fake socket closes (1000 from close())
  await h.flush();
  assert.equal(FakeSocket.instances[0].readyState, 3);
  assert.equal(h.conn.status, "reconnecting");
  // [connect timeout, pre-flight bound, backoff]
  assert.deepEqual(h.timers.map((t) => t.ms), [5000, 5000, 375], "a backoff timer follows");
  h.timers[2].fn();
  await h.flush();
  assert.equal(FakeSocket.instances.length, 2);
  FakeSocket.instances[1].accept();
  assert.equal(h.conn.status, "open");
});

test("a pre-flight that never answers is given up after connectTimeoutMs, then the client retries", async () => {
  // A black-holed router: the socket hangs (closed by the connect timeout), and so does the
  // pre-flight GET. Without a bound the client stayed "connecting" forever.
  const h = harness(undefined, {
    connectTimeoutMs: 5000,
    fetch: (() => new Promise(() => {})) as unknown as typeof fetch,
  });
  await h.flush();
  h.timers[0].fn(); // connect timeout: the socket closes, the pre-flight starts and hangs
  await h.flush();
  assert.equal(h.conn.status, "connecting");
  assert.deepEqual(h.timers.map((t) => t.ms), [5000, 5000], "the pre-flight is bounded");
  h.timers[1].fn();
  await h.flush();
  assert.equal(h.conn.status, "reconnecting");
  assert.equal(h.timers.length, 3, "a backoff timer follows");
  h.timers[2].fn();
  await h.flush();
  assert.equal(FakeSocket.instances.length, 2, "a second attempt");
});

test("close() while the pre-flight is asked ends it: no onRejected, no second closed", async () => {
  let answer: (v: unknown) => void = () => {};
  const h = harness(undefined, {
    fetch: (() => new Promise((r) => (answer = r))) as unknown as typeof fetch,
  });
  await h.flush();
  void FakeSocket.instances[0].drop(1006); // the handshake failed: the pre-flight starts
  await h.flush();
  h.conn.close();
  answer({ ok: false, json: async () => ({ error: "origin_not_allowed" }) });
  await h.flush();
  assert.deepEqual(h.rejected, [], "no callback after close()");
  assert.deepEqual(h.statuses.map((s) => s.s), ["connecting", "closed"]);
  assert.equal(h.timers.length, 0, "no retry scheduled");
});

test("messages sent while reconnecting are buffered (bounded), volatile ones dropped", async () => {
  const h = harness(undefined, { sendBufferSize: 2 });
  assert.equal(h.conn.broadcast("a"), true);
  assert.equal(h.conn.broadcast("cursor", { volatile: true }), false);
  assert.equal(h.conn.direct("bob", "b"), true);
  assert.throws(() => h.conn.broadcast("c"), /send buffer full/);
  await h.flush();
  const ws = FakeSocket.instances[0];
  ws.accept();
  assert.deepEqual(ws.sent.map((s) => JSON.parse(s)), [
    { type: "broadcast", data: "a" },
    { type: "direct", to: "bob", data: "b" },
  ]);
  assert.equal(h.conn.broadcast("now", { volatile: true }), true);
  assert.equal(ws.sent.length, 3);
  assert.deepEqual(h.statuses.map((s) => s.s), ["connecting", "open"]);
});

test("sendBufferSize 0 keeps the old behaviour: sending while not open throws", async () => {
  const h = harness(undefined, { sendBufferSize: 0 });
  assert.throws(() => h.conn.broadcast("a"), /not connected/);
});

test("an open socket sends ping every 30 s, and stops when it closes", async () => {
  const h = harness();
  await h.flush();
  const ws = FakeSocket.instances[0];
  ws.accept();
  const ping = h.timers.at(-1)!;
  assert.equal(ping.ms, 30_000);
  ping.fn();
  ping.fn();
  assert.deepEqual(ws.sent, ["ping", "ping"]);
  assert.equal(h.timers.at(-1)!.ms, 30_000);
  h.conn.close();
  h.timers.at(-1)!.fn();
  assert.deepEqual(ws.sent, ["ping", "ping"], "no ping after close");
});

/** The first socket opens, then the router closes it with 4001 (the immediate try starts). */
async function firstSocketGets4001(h: ReturnType<typeof harness>) {
  await h.flush();
  FakeSocket.instances[0].accept();
  await FakeSocket.instances[0].drop(4001, "reauth_required");
  await h.flush();
}

test("4001 reauth_required reconnects at once with a fresh token; a failed first try then backs off", async () => {
  const h = harness("expired", { pingIntervalMs: 0 });
  await firstSocketGets4001(h);
  assert.equal(h.timers.length, 0, "no backoff timer before the first try");
  assert.deepEqual(h.requested, ["tok0", "tok1"], "a fresh token");
  assert.deepEqual(h.reauths, [false, true], "requestAccess is told to bring current rights");
  assert.equal(FakeSocket.instances.length, 2, "the new socket is already opening");
  assert.deepEqual(h.statuses.find((s) => s.code === 4001), { s: "reconnecting", code: 4001, reason: "reauth_required", retryInMs: 0, attempt: 1 });
  assert.deepEqual(FakeSocket.instances[1].protocols, ["office-router.v1", "bearer.tok1"]);
  // The immediate try is refused: from here it is the usual backoff (attempt 1, not 0).
  await FakeSocket.instances[1].drop(1006);
  await h.flush();
  assert.deepEqual(h.timers.map((t) => t.ms), [750]);
  h.timers[0].fn();
  await h.flush();
  FakeSocket.instances[2].accept();
  assert.equal(h.conn.status, "open");
  assert.deepEqual(h.rejected, ["expired"]);
});

test("a 4001 on the socket its immediate reconnect opened backs off: a server closing every fresh socket with 4001 gets no storm", async () => {
  const h = harness(undefined, { pingIntervalMs: 0 });
  await firstSocketGets4001(h);
  assert.equal(FakeSocket.instances.length, 2, "the first 4001: at once");
  const settle = () => h.timers.filter((t) => t.ms === 10_000);
  FakeSocket.instances[1].accept();
  assert.equal(settle().length, 1, "a socket opened by a reauth settles after 10 s");
  // Closed with 4001 again before it settled: the usual backoff, growing, still with a fresh token.
  const delays: number[] = [];
  for (let i = 1; i <= 3; i++) {
    await FakeSocket.instances[i].drop(4001, "reauth_required");
    await h.flush();
    assert.equal(FakeSocket.instances.length, i + 1, `no socket at once after 4001 number ${i + 1}`);
    const t = h.timers.at(-1)!;
    delays.push(t.ms);
    t.fn();
    await h.flush();
    assert.equal(FakeSocket.instances.length, i + 2);
    FakeSocket.instances[i + 1].accept();
  }
  assert.deepEqual(delays, [750, 1500, 3000], "attempts 1, 2, 3: the immediate try was attempt 0");
  assert.deepEqual(h.reauths, [false, true, true, true, true], "every try after a 4001 brings current rights");
  // Once a socket has stayed open 10 s, the next 4001 is again answered at once.
  settle().at(-1)!.fn();
  await FakeSocket.instances[4].drop(4001, "reauth_required");
  await h.flush();
  assert.equal(FakeSocket.instances.length, 6);
  // A socket the usual backoff opened (after a lost connection) answers its 4001 at once too.
  FakeSocket.instances[5].accept();
  await FakeSocket.instances[5].drop(4001, "reauth_required");
  await h.flush();
  assert.equal(FakeSocket.instances.length, 6, "unsettled: backs off");
  h.timers.at(-1)!.fn();
  await h.flush();
  FakeSocket.instances[6].accept();
  await FakeSocket.instances[6].drop(1006);
  await h.flush();
  h.timers.at(-1)!.fn();
  await h.flush();
  FakeSocket.instances[7].accept();
  await FakeSocket.instances[7].drop(4001, "reauth_required");
  await h.flush();
  assert.equal(FakeSocket.instances.length, 9, "at once");
  h.conn.close();
});

test("after a 4001, every try until a socket opens asks for current rights, not only the first", async () => {
  const h = harness(undefined, { pingIntervalMs: 0, preflight: false });
  await firstSocketGets4001(h);
  // The immediate try is refused (a blip): the backoff's try must still bring current rights,
  // or an app that caches its identity provider's session hands the old role back.
  await FakeSocket.instances[1].drop(1006);
  await h.flush();
  h.timers.at(-1)!.fn();
  await h.flush();
  assert.deepEqual(h.reauths, [false, true, true]);
  FakeSocket.instances[2].accept();
  // Once open, a later lost connection is an ordinary reconnect.
  await FakeSocket.instances[2].drop(1006);
  await h.flush();
  h.timers.at(-1)!.fn();
  await h.flush();
  assert.deepEqual(h.reauths, [false, true, true, false]);
  h.conn.close();
});

test("4003 revoked is terminal and reported as onRejected(\"revoked\")", async () => {
  const h = harness(undefined, { pingIntervalMs: 0 });
  await h.flush();
  FakeSocket.instances[0].accept();
  await FakeSocket.instances[0].drop(4003, "revoked");
  await h.flush();
  assert.equal(h.conn.status, "closed");
  assert.deepEqual(h.rejected, ["revoked"]);
  assert.equal(h.timers.length, 0);
  assert.deepEqual(h.requested, ["tok0"], "no new token");
  assert.deepEqual(h.statuses.at(-1), { s: "closed", code: 4003, reason: "revoked", attempt: 0 });
  assert.throws(() => h.conn.broadcast(1), /not connected/);
});

test("a handshake refused with revoked (a block) stops too", async () => {
  const h = harness("revoked", { pingIntervalMs: 0 });
  await firstSocketGets4001(h);
  // The immediate reconnect is refused; the pre-flight says revoked: no more tries.
  await FakeSocket.instances[1].drop(1006);
  await h.flush();
  assert.deepEqual(h.rejected, ["revoked"]);
  assert.equal(h.conn.status, "closed");
  assert.equal(h.timers.length, 0);
});
