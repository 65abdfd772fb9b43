// What a direct message and a connect cost as an org grows (issue 18 item 2).
//
// Exact counts are asserted: nothing per message or connect decodes every socket's attachment,
// and a connect's SQL rows do not grow with the org. Timings are printed for docs/performance.md
// and never asserted (they are noisy on shared CPUs). What each timing is:
//  - direct: a → b, from send to b's receipt, mean of a batch.
//  - connect, in the object: from the upgrade reaching the object to the 101 handed back to the
//    runtime (the welcome is queued before it). This is the connecting user's wait that the org's
//    size can change; the Worker's edge and token check come before it and do not depend on it.
//  - connect, at the client: from the test's fetch to the DO to the welcome frame. It adds the
//    test pool's own fixed costs and parsing the welcome (O(users) by protocol).
//  - join fan-out, in the object: a new user's join sent to every other socket (flushJoin), after
//    the 101. O(sockets) by protocol, like a broadcast.
//  - fetch → join sent to every socket: the connect's whole work, the fan-out included, read when
//    bob gets the join. The object sends it to all in one synchronous loop and the test shares
//    workerd's thread, so bob's frame is handled only after the loop has ended.
// A user already online has no join to announce; a new user has.
// The empty and the full org are measured in the same run, interleaved round by round with the
// order swapped each round, so load on the machine hits both alike. A round gives one mean per
// figure (DIRECTS messages, CONNECTS connects); each figure is the interquartile mean of the
// rounds (iqm says why) with their interquartile range; each ratio is the ratio of those, with a
// 90% interval from a paired bootstrap over the rounds.
import { runInDurableObject } from "cloudflare:test";
import { afterAll, describe, expect, it, vi } from "vitest";
import { admissionRequest } from "../src/admission";
import { Client, orgStub } from "./helpers";

const BIG = 2000;
const ROUNDS = 20;
const DIRECTS = 20;
const CONNECTS = 5;
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
  if (typeof orig !== "function") return; // code from before the method existed, for a reference run
  obj[method] = function (this: unknown, ...a: unknown[]) {
    const t0 = performance.now();
    const r = orig.apply(this, a);
    if (r instanceof Promise) return r.finally(() => (inside[key] += performance.now() - t0));
    inside[key] += performance.now() - t0;
    return r;
  };
}

async function setup(name: string, others: number, users: number): Promise<Org> {
  // As for the proxy's benchmark, the message rate limit is raised for load.
  await runInDurableObject(orgStub(name), (s) => {
    // The org cap too, so that BIG can be set to 10,000 (the default cap) or more.
    Object.assign((s as unknown as { limits: object }).limits, { messagesPerSecond: 1e6, messageBurst: 1e6, maxConnsPerOrg: 1e6 });
    // accept: from the upgrade to the 101 handed to the runtime (the welcome is queued before
    // it); flushJoin: a new user's join to every other socket.
    timed(s as unknown as Record<string, unknown>, "accept", "accept");
    timed(s as unknown as Record<string, unknown>, "flushJoin", "fanout");
  });
  // The crowd: real hibernatable sockets of `users` users, accepted inside the DO as /connect
  // would, with their client ends kept here unread. Opening them through /connect would announce
  // each join to all the others (O(n²) to build the org) and time the test's own reading.
  // They stay open until the runtime stops: closing them would announce 2,000 leaves.
  const crowd: WebSocket[] = await runInDurableObject(orgStub(name), (_s, state) => {
    const ends: WebSocket[] = [];
    for (let i = 0; i < others; i++) {
      const pair = new WebSocketPair();
      const userId = `crowd-${i % users}`;
      state.acceptWebSocket(pair[1], [userId]);
      pair[1].serializeAttachment({ connectionId: `crowd-${i}`, userId, orgId: name, role: "member", connectedAt: Date.now() });
      ends.push(pair[0]);
    }
    return ends;
  });
  const a = await direct(name, "alice");
  const b = await direct(name, "bob");
  await a.next(); // bob's join
  // The liveness alarm (every 30 s, decoding every attachment: docs/performance.md) is a cost of
  // its own, not of a message or a connect: it is moved past the end of the test.
  await runInDurableObject(orgStub(name), (_s, state) => state.storage.setAlarm(Date.now() + 3_600_000));
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
  /** From the fetch to the join at bob, after the loop that sent it to all; 0 for a user already online. */
  told: number;
}

/**
 * n connects, one after the other, of bob (already online) or of new users. A new user's connect
 * is left to finish its fan-out (bob has the join, so the send loop has ended) before the next one.
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
  ["told", "connect of a new user: fetch → `join` sent to every socket"],
];

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((x, y) => x - y);
  const i = (s.length - 1) * q;
  return s[Math.floor(i)] + (s[Math.ceil(i)] - s[Math.floor(i)]) * (i - Math.floor(i));
};
/**
 * The interquartile mean: the mean of the middle half. The timer ticks in whole milliseconds, so
 * a sub-millisecond time is 0 or 1 in each sample and only a mean finds it; a mean of the middle
 * half also leaves out the rounds the shared machine stalled.
 */
const iqm = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return mean(s.slice(Math.floor(s.length / 4), Math.ceil((3 * s.length) / 4)));
};
/** The interquartile mean of the rounds, and their interquartile range. */
const fmt = (xs: number[]) => `${iqm(xs).toFixed(2)} (${quantile(xs, 0.25).toFixed(2)}–${quantile(xs, 0.75).toFixed(2)})`;

/** The ratio of the interquartile means, and its 90% interval from a paired bootstrap over the rounds. */
function ratio(big: number[], empty: number[]): string {
  if (iqm(empty) === 0) return "n/a";
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const rs: number[] = [];
  for (let k = 0; k < 2000; k++) {
    const idx = big.map(() => Math.floor(rand() * big.length));
    const e = iqm(idx.map((i) => empty[i]));
    if (e > 0) rs.push(iqm(idx.map((i) => big[i])) / e);
  }
  return `${(iqm(big) / iqm(empty)).toFixed(2)} (${quantile(rs, 0.05).toFixed(2)}–${quantile(rs, 0.95).toFixed(2)})`;
}

/**
 * The orgs compared: empty, 2,000 other sockets of 2,000 users, and 2,000 other sockets of 125
 * users (16 each, the per-user cap). The third tells apart what grows with sockets (the join's
 * fan-out) from what grows with users (the welcome's presence list, O(users) by protocol).
 */
const ORGS = { empty: { sockets: 0, users: 0 }, big: { sockets: BIG, users: BIG }, bigFewUsers: { sockets: BIG, users: BIG / 16 } };
type OrgKey = keyof typeof ORGS;
const KEYS = Object.keys(ORGS) as OrgKey[];
const samples = Object.fromEntries(KEYS.map((k) => [k, new Map<Figure, number[]>()])) as Record<OrgKey, Map<Figure, number[]>>;
const counts = Object.fromEntries(KEYS.map((k) => [k, { directDecodes: 0, connectDecodes: 0, rows: { read: 0, written: 0 } }])) as Record<OrgKey, { directDecodes: number; connectDecodes: number; rows: { read: number; written: number } }>;

describe("cost per operation, empty org vs 2,000 sockets", () => {
  afterAll(() => {
    if (!samples.bigFewUsers.get("told")?.length) return;
    const n = BIG.toLocaleString("en");
    const lines = [
      `| ms: interquartile mean (IQR) of ${ROUNDS} interleaved rounds | empty org | ${n} other sockets, ${n} users | ratio (90% interval) | ${n} other sockets, ${ORGS.bigFewUsers.users} users | ratio (90% interval) |`,
      "|---|---|---|---|---|---|",
    ];
    for (const [f, label] of FIGURES) {
      const e = samples.empty.get(f)!;
      const b = samples.big.get(f)!;
      const c = samples.bigFewUsers.get(f)!;
      lines.push(`| ${label} | ${fmt(e)} | ${fmt(b)} | ${ratio(b, e)} | ${fmt(c)} | ${ratio(c, e)} |`);
    }
    const [e, b, c] = KEYS.map((k) => counts[k]);
    lines.push(`| attachments decoded per direct message / per connect | ${e.directDecodes} / ${e.connectDecodes} | ${b.directDecodes} / ${b.connectDecodes} | | ${c.directDecodes} / ${c.connectDecodes} | |`);
    lines.push(`| SQL rows read / written per connect | ${e.rows.read} / ${e.rows.written} | ${b.rows.read} / ${b.rows.written} | | ${c.rows.read} / ${c.rows.written} | |`);
    console.info(lines.join("\n"));
  });

  it(`${BIG} sockets: no per-socket work on a direct message or a connect`, { timeout: 600_000 }, async () => {
    const warm = await setup("org-cost-warmup", 0, 0);
    await directBatch(warm, 50);
    await connectBatch(warm, 10, () => "bob");
    await connectBatch(warm, 4, (i) => `warm-${i}`);
    const orgs = {} as Record<OrgKey, Org>;
    for (const k of KEYS) orgs[k] = await setup(`org-cost-${k}`, ORGS[k].sockets, ORGS[k].users);
    const decodes = vi.spyOn(WebSocket.prototype, "deserializeAttachment");
    const add = (k: OrgKey, f: Figure, v: number) => samples[k].set(f, [...(samples[k].get(f) ?? []), v]);
    for (let round = 0; round < ROUNDS; round++) {
      // Each org first, second and last in turn.
      for (let j = 0; j < KEYS.length; j++) {
        const k = KEYS[(round + j) % KEYS.length];
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
    for (const k of KEYS) {
      counts[k].rows = await runInDurableObject(orgStub(orgs[k].name), (s) => ({ ...s.lastConnectRows }));
      for (const c of [orgs[k].a, orgs[k].b]) c.close();
      for (const c of [orgs[k].a, orgs[k].b]) await c.closed;
    }
    for (const c of [warm.a, warm.b]) c.close();
    for (const k of KEYS) {
      expect(counts[k].directDecodes).toBe(0);
      expect(counts[k].connectDecodes).toBe(0);
      expect(counts[k].rows.read).toBeLessThanOrEqual(counts.empty.rows.read + 1);
      expect(counts[k].rows.written).toBe(counts.empty.rows.written);
    }
  });
});
