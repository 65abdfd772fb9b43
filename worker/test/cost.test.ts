// What a direct message and a connect cost as an org grows (issue 18 item 2).
//
// Exact counts are asserted: nothing per message or connect decodes every socket's attachment,
// and a connect's SQL rows do not grow with the org. Timings are printed for docs/performance.md
// and never asserted (they are noisy on shared CPUs). What each timing is:
//  - direct: a → b, from send to b's receipt, mean of a batch.
//  - reconnect / new user, to welcome: what the connecting user waits for, from the DO fetch to
//    the welcome frame at the client (the Worker's edge and token check are not in it: they do
//    not depend on the org's size). A new user's `join` goes to every other socket; an already
//    online user's does not.
//  - new user, to everyone told: from the same fetch to the moment the join reached the org's
//    last member (the fan-out's end). The test shares workerd's thread with the object, so this
//    is the object's whole work for the connect; it is O(sockets) by protocol, like a broadcast.
// The empty and the full org are measured in the same run, interleaved round by round with the
// order swapped each round, so load on the machine hits both alike; each figure is the median of
// the rounds with the interquartile range, and each ratio the median of the per-round ratios
// (paired, so a slow moment of the machine cancels) with their interquartile range.
import { runInDurableObject } from "cloudflare:test";
import { afterAll, describe, expect, it, vi } from "vitest";
import { admissionRequest } from "../src/admission";
import { Client, orgStub } from "./helpers";

const BIG = 2000;
const ROUNDS = 15;
const DIRECTS = 40;
const CONNECTS = 4;
let seq = 0;

/** Opens a socket straight on the org's DO with the admission the Worker would pass. */
async function open(org: string, userId: string): Promise<Response> {
  const who = { userId, orgId: org, role: "member", jti: `cost-${seq++}-${Math.random().toString(36).slice(2)}`, replayUntil: Math.floor(Date.now() / 1000) + 120, subprotocol: "" };
  const res = await orgStub(org).fetch(admissionRequest(who));
  if (res.status !== 101) throw new Error(`connect: ${res.status}`);
  return res;
}

async function direct(org: string, userId: string): Promise<Client> {
  const res = await open(org, userId);
  const c = new Client(res.webSocket!, res);
  const w = await c.next();
  if (w.type !== "welcome") throw new Error(`first frame: ${JSON.stringify(w)}`);
  return c;
}

interface Org {
  name: string;
  a: Client;
  b: Client;
  crowd: WebSocket[];
}

/** Time spent inside the object, recorded by the wrappers setup() installs. */
const inside = { accept: 0, fanout: 0 };

/** Wraps an instance method to add its duration (to its promise's end) to inside[key]. */
function timed(obj: Record<string, unknown>, method: string, key: keyof typeof inside): void {
  const orig = obj[method] as (...a: unknown[]) => unknown;
  obj[method] = function (this: unknown, ...a: unknown[]) {
    const t0 = performance.now();
    const r = orig.apply(this, a);
    if (r instanceof Promise) return r.finally(() => (inside[key] += performance.now() - t0));
    inside[key] += performance.now() - t0;
    return r;
  };
}

async function setup(name: string, others: number): Promise<Org> {
  // As for the proxy's benchmark, the message rate limit is raised for load.
  await runInDurableObject(orgStub(name), (s) => {
    Object.assign((s as unknown as { limits: object }).limits, { messagesPerSecond: 1e6, messageBurst: 1e6 });
    // accept: from the upgrade to the 101 handed to the runtime (the welcome is queued before
    // it); flushJoin: a new user's join to every other socket.
    timed(s as unknown as Record<string, unknown>, "accept", "accept");
    timed(s as unknown as Record<string, unknown>, "flushJoin", "fanout");
  });
  // The crowd: real hibernatable sockets of distinct users, accepted inside the DO as /connect
  // would, with their client ends kept here unread. Opening them through /connect would announce
  // each join to all the others (O(n²) to build the org) and time the test's own reading.
  // They stay open until the runtime stops: closing them would announce 2,000 leaves.
  const crowd: WebSocket[] = await runInDurableObject(orgStub(name), (_s, state) => {
    const ends: WebSocket[] = [];
    for (let i = 0; i < others; i++) {
      const pair = new WebSocketPair();
      state.acceptWebSocket(pair[1], [`crowd-${i}`]);
      pair[1].serializeAttachment({ connectionId: `crowd-${i}`, userId: `crowd-${i}`, orgId: name, role: "member", connectedAt: Date.now() });
      ends.push(pair[0]);
    }
    return ends;
  });
  const a = await direct(name, "alice");
  const b = await direct(name, "bob");
  await a.next(); // bob's join
  return { name, a, b, crowd };
}

/** Mean ms of n direct messages a → b, each awaited at b. */
async function directBatch(o: Org, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    o.a.send({ type: "direct", to: "bob", data: i });
    await o.b.next();
  }
  return (performance.now() - t0) / n;
}

interface ConnectTimes {
  /** Inside the object, from the upgrade to the 101 (accept). */
  to101: number;
  /** At the client, from the fetch to the welcome frame. */
  welcome: number;
  /** Inside the object, sending the join to the others (flushJoin); 0 for a user already online. */
  fanout: number;
  /** From the fetch to the join at the org's last socket (bob); 0 for a user already online. */
  told: number;
}

/**
 * n connects, one after the other, of bob (already online) or of new users. A new user's connect
 * is left to finish its fan-out (bob, the org's last socket, has the join) before the next one.
 * Returns the mean of each time; closes the sockets and drains their leaves afterwards.
 */
async function connectBatch(o: Org, n: number, who: (i: number) => string): Promise<ConnectTimes> {
  const opened: Client[] = [];
  const sum: ConnectTimes = { to101: 0, welcome: 0, fanout: 0, told: 0 };
  let joins = 0;
  for (let i = 0; i < n; i++) {
    const userId = who(i);
    inside.accept = inside.fanout = 0;
    const t0 = performance.now();
    opened.push(await direct(o.name, userId));
    sum.welcome += performance.now() - t0;
    if (userId !== "bob") {
      const join = await o.b.next();
      sum.told += performance.now() - t0;
      if (join.type !== "presence" || join.event !== "join" || join.userId !== userId) throw new Error(`bob got ${JSON.stringify(join)}`);
      await o.a.next(); // the same join
      joins++;
    }
    sum.to101 += inside.accept;
    sum.fanout += inside.fanout;
  }
  for (const c of opened) c.close();
  for (const c of opened) await c.closed;
  for (let i = 0; i < joins; i++) await o.b.next(); // the leaves, so that later figures start clean
  for (let i = 0; i < joins; i++) await o.a.next();
  return { to101: sum.to101 / n, welcome: sum.welcome / n, fanout: sum.fanout / n, told: sum.told / n };
}

type Figure = "direct" | "reconnect101" | "reconnectWelcome" | "newcomer101" | "newcomerWelcome" | "fanout" | "told";
const FIGURES: [Figure, string][] = [
  ["direct", "direct message, send → received"],
  ["reconnect101", "connect of a user already online: in the object, upgrade → 101"],
  ["reconnectWelcome", "connect of a user already online: at the client, fetch → welcome"],
  ["newcomer101", "connect of a new user: in the object, upgrade → 101"],
  ["newcomerWelcome", "connect of a new user: at the client, fetch → welcome"],
  ["fanout", "connect of a new user: in the object, its `join` to every other socket"],
  ["told", "connect of a new user: fetch → `join` at the org's last socket"],
];

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((x, y) => x - y);
  const i = (s.length - 1) * q;
  return s[Math.floor(i)] + (s[Math.ceil(i)] - s[Math.floor(i)]) * (i - Math.floor(i));
};
const fmt = (xs: number[]) => `${quantile(xs, 0.5).toFixed(2)} (${quantile(xs, 0.25).toFixed(2)}–${quantile(xs, 0.75).toFixed(2)})`;

const samples = { empty: new Map<Figure, number[]>(), big: new Map<Figure, number[]>() };
const counts = { empty: { directDecodes: 0, connectDecodes: 0, rows: { read: 0, written: 0 } }, big: { directDecodes: 0, connectDecodes: 0, rows: { read: 0, written: 0 } } };

describe("cost per operation, empty org vs 2,000 sockets", () => {
  afterAll(() => {
    if (!samples.big.get("told")?.length) return;
    const lines = [
      `| ms: median (IQR) of ${ROUNDS} interleaved rounds | empty org | ${BIG.toLocaleString("en")} other sockets | ratio: median (IQR) of the rounds' ratios |`,
      "|---|---|---|---|",
    ];
    for (const [f, label] of FIGURES) {
      const e = samples.empty.get(f)!;
      const b = samples.big.get(f)!;
      lines.push(`| ${label} | ${fmt(e)} | ${fmt(b)} | ${fmt(b.map((x, i) => x / e[i]))} |`);
    }
    const e = counts.empty;
    const b = counts.big;
    lines.push(`| attachments decoded per direct message / per connect | ${e.directDecodes} / ${e.connectDecodes} | ${b.directDecodes} / ${b.connectDecodes} | |`);
    lines.push(`| SQL rows read / written per connect | ${e.rows.read} / ${e.rows.written} | ${b.rows.read} / ${b.rows.written} | |`);
    console.info(lines.join("\n"));
  });

  it(`${BIG} sockets: no per-socket work on a direct message or a connect`, { timeout: 300_000 }, async () => {
    const warm = await setup("org-cost-warmup", 0);
    await directBatch(warm, 50);
    await connectBatch(warm, 10, () => "bob");
    await connectBatch(warm, 4, (i) => `warm-${i}`);
    const orgs = { empty: await setup("org-cost-empty", 0), big: await setup("org-cost-big", BIG) };
    const decodes = vi.spyOn(WebSocket.prototype, "deserializeAttachment");
    const add = (k: "empty" | "big", f: Figure, v: number) => samples[k].set(f, [...(samples[k].get(f) ?? []), v]);
    for (let round = 0; round < ROUNDS; round++) {
      for (const k of round % 2 === 0 ? (["empty", "big"] as const) : (["big", "empty"] as const)) {
        decodes.mockClear();
        add(k, "direct", await directBatch(orgs[k], DIRECTS));
        counts[k].directDecodes = Math.max(counts[k].directDecodes, decodes.mock.calls.length / DIRECTS);
        decodes.mockClear();
        const r = await connectBatch(orgs[k], CONNECTS, () => "bob");
        const n = await connectBatch(orgs[k], CONNECTS, (i) => `newcomer-${round}-${i}`);
        counts[k].connectDecodes = Math.max(counts[k].connectDecodes, decodes.mock.calls.length / (2 * CONNECTS));
        add(k, "reconnect101", r.to101);
        add(k, "reconnectWelcome", r.welcome);
        add(k, "newcomer101", n.to101);
        add(k, "newcomerWelcome", n.welcome);
        add(k, "fanout", n.fanout);
        add(k, "told", n.told);
      }
    }
    decodes.mockRestore();
    for (const k of ["empty", "big"] as const) {
      counts[k].rows = await runInDurableObject(orgStub(orgs[k].name), (s) => ({ ...s.lastConnectRows }));
      for (const c of [orgs[k].a, orgs[k].b]) c.close();
      for (const c of [orgs[k].a, orgs[k].b]) await c.closed;
    }
    for (const c of [warm.a, warm.b]) c.close();
    const big = counts.big;
    expect(big.directDecodes).toBe(0);
    expect(big.connectDecodes).toBe(0);
    expect(big.rows.read).toBeLessThanOrEqual(counts.empty.rows.read + 1);
    expect(big.rows.written).toBe(counts.empty.rows.written);
  });
});
