// What a direct message and a connect cost as an org grows (issue 18 item 2). The counts are
// exact and asserted: nothing per message or connect decodes every socket's attachment. The
// timings are printed for docs/performance.md, never asserted (they are noisy on shared CPUs).
import { runInDurableObject } from "cloudflare:test";
import { afterAll, describe, expect, it, vi } from "vitest";
import { admissionRequest } from "../src/admission";
import { Client, orgStub } from "./helpers";

const BIG = 2000;
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
  await c.next(); // welcome
  return c;
}

interface Org {
  name: string;
  a: Client;
  b: Client;
  crowd: WebSocket[];
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

async function setup(name: string, others: number): Promise<Org> {
  // As for the proxy's benchmark, the message rate limit is raised for load.
  await runInDurableObject(orgStub(name), (s) => {
    Object.assign((s as unknown as { limits: object }).limits, { messagesPerSecond: 1e6, messageBurst: 1e6 });
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
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    o.a.send({ type: "direct", to: "bob", data: i });
    await o.b.next();
  }
  return (Date.now() - t0) / n;
}

/** Mean ms of n connects of a user already online (no join to announce), to the welcome. */
async function connectBatch(o: Org, n: number): Promise<number> {
  const opened: Client[] = [];
  const t0 = Date.now();
  for (let i = 0; i < n; i++) opened.push(await direct(o.name, "bob"));
  const ms = (Date.now() - t0) / n;
  for (const c of opened) c.close();
  for (const c of opened) await c.closed;
  return ms;
}

interface Figures {
  directMs: number;
  connectMs: number;
  joinMs: number;
  directDecodes: number;
  connectDecodes: number;
  rows: { read: number; written: number };
}

const results: Record<string, Figures> = {};
const ROUNDS = 7;

describe("cost per operation, empty org vs 2,000 sockets", () => {
  afterAll(() => {
    const e = results.empty;
    const big = results.big;
    if (!e || !big) return;
    const r = (x: number, y: number) => (y > 0 ? (x / y).toFixed(2) : "n/a");
    console.info(
      [
        `| figure (median of ${ROUNDS} alternating rounds) | empty org | 2,000 other sockets | ratio |`,
        "|---|---|---|---|",
        `| direct message, round trip (ms) | ${e.directMs.toFixed(2)} | ${big.directMs.toFixed(2)} | ${r(big.directMs, e.directMs)} |`,
        `| connect of a user already online, to welcome (ms) | ${e.connectMs.toFixed(2)} | ${big.connectMs.toFixed(2)} | ${r(big.connectMs, e.connectMs)} |`,
        `| connect of a new user, join announced to all (ms) | ${e.joinMs.toFixed(2)} | ${big.joinMs.toFixed(2)} | ${r(big.joinMs, e.joinMs)} |`,
        `| attachments decoded per direct message / per connect | ${e.directDecodes} / ${e.connectDecodes} | ${big.directDecodes} / ${big.connectDecodes} | |`,
        `| SQL rows read / written per connect | ${e.rows.read} / ${e.rows.written} | ${big.rows.read} / ${big.rows.written} | |`,
      ].join("\n"),
    );
  });

  it(`${BIG} sockets: no per-socket work on a direct message or a connect`, { timeout: 300_000 }, async () => {
    const warm = await setup("org-cost-warmup", 0);
    await directBatch(warm, 50);
    await connectBatch(warm, 10);
    const orgs = { empty: await setup("org-cost-empty", 0), big: await setup("org-cost-big", BIG) };
    const decodes = vi.spyOn(WebSocket.prototype, "deserializeAttachment");
    const samples = { empty: { d: [] as number[], c: [] as number[], j: [] as number[], dd: 0, cd: 0 }, big: { d: [] as number[], c: [] as number[], j: [] as number[], dd: 0, cd: 0 } };
    for (let round = 0; round < ROUNDS; round++) {
      for (const k of ["empty", "big"] as const) {
        decodes.mockClear();
        samples[k].d.push(await directBatch(orgs[k], 50));
        samples[k].dd = Math.max(samples[k].dd, decodes.mock.calls.length / 50);
        decodes.mockClear();
        samples[k].c.push(await connectBatch(orgs[k], 5));
        samples[k].cd = Math.max(samples[k].cd, decodes.mock.calls.length / 5);
        const t0 = Date.now();
        const c = await direct(orgs[k].name, `newcomer-${round}`);
        samples[k].j.push(Date.now() - t0);
        c.close();
        await c.closed;
        await orgs[k].a.next(); // join
        await orgs[k].a.next(); // leave
      }
    }
    decodes.mockRestore();
    for (const k of ["empty", "big"] as const) {
      const rows = await runInDurableObject(orgStub(orgs[k].name), (s) => ({ ...s.lastConnectRows }));
      results[k] = { directMs: median(samples[k].d), connectMs: median(samples[k].c), joinMs: median(samples[k].j), directDecodes: samples[k].dd, connectDecodes: samples[k].cd, rows };
      for (const c of [orgs[k].a, orgs[k].b, warm.a, warm.b]) c.close();
      for (const c of [orgs[k].a, orgs[k].b]) await c.closed;
    }
    const big = results.big;
    expect(big.directDecodes).toBe(0);
    expect(big.connectDecodes).toBe(0);
    expect(big.rows.read).toBeLessThanOrEqual(results.empty.rows.read + 1);
    expect(big.rows.written).toBe(results.empty.rows.written);
  });
});
