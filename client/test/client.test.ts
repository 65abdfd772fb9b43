// Unit tests of the client's state machine with a fake WebSocket and a manual clock.
import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay, connect, preflightURL, type Access, type Status } from "../src/office-router-client.js";

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

function harness(preflightReason?: string) {
  FakeSocket.instances = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const statuses: { s: Status; retryInMs?: number; reason?: string; code?: number }[] = [];
  let n = 0;
  const requested: string[] = [];
  const rejected: string[] = [];
  const conn = connect({
    requestAccess: async (): Promise<Access> => {
      const a = { token: `tok${n++}`, url: "wss://router.test/orgs/acme/ws", expiresAt: 0 };
      requested.push(a.token);
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
  });
  const flush = () => new Promise((r) => setImmediate(r));
  return { conn, timers, statuses, requested, rejected, flush };
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
