// What a new user's connect costs when it reaches the object right behind another new user's,
// as when a whole org reconnects after a deploy (issue 18 item 2). cost.test.ts times connects
// one at a time, each after the previous join's fan-out has gone out by its timer; here BURST new
// users connect at once, so each fetch but the first may find the previous join still pending and
// must send it before its own accept (do.ts, announceJoin: a later welcome must never be followed
// by the join of a user it lists). Printed, never asserted (noisy on shared CPUs):
//  - in the object, fetch → 101: the whole of fetch(), the pending join included;
//  - in the object, accept → 101: what cost.test.ts calls "upgrade → 101";
//  - at the client, the burst's last welcome.
// An empty org and one with BIG other sockets are measured in the same run, alternated round by
// round; figures are medians of the rounds. Asserted: every member learns of every newcomer once.
import { runInDurableObject } from "cloudflare:test";
import { expect, it } from "vitest";
import { admissionRequest } from "../src/admission";
import { Client, orgStub } from "./helpers";

const BIG = 2000;
const BURST = 10;
const ROUNDS = 10;
let seq = 0;
const inside = { fetch: 0, accept: 0 };

async function open(org: string, userId: string): Promise<Client> {
  const who = { userId, orgId: org, role: "member", jti: `burst-${seq++}`, replayUntil: Math.floor(Date.now() / 1000) + 120, subprotocol: "" };
  const res = await orgStub(org).fetch(admissionRequest(who));
  if (res.status !== 101) throw new Error(`connect: ${res.status}`);
  const c = new Client(res.webSocket!, res);
  const w = await c.next();
  if (w.type !== "welcome") throw new Error(`first frame: ${JSON.stringify(w)}`);
  return c;
}

/** An org with `others` unread sockets (as in cost.test.ts) and a watcher that reads every frame. */
async function setup(name: string, others: number): Promise<Client> {
  await runInDurableObject(orgStub(name), (s, state) => {
    Object.assign((s as unknown as { limits: object }).limits, { maxConnsPerOrg: 1e6 });
    const o = s as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    for (const m of ["fetch", "accept"] as const) {
      const orig = o[m];
      o[m] = function (this: unknown, ...a: unknown[]) {
        const t0 = performance.now();
        return orig.apply(this, a).finally(() => (inside[m] += performance.now() - t0));
      };
    }
    for (let i = 0; i < others; i++) {
      const pair = new WebSocketPair();
      state.acceptWebSocket(pair[1], [`crowd-${i}`]);
      pair[1].serializeAttachment({ connectionId: `crowd-${i}`, userId: `crowd-${i}`, orgId: name, role: "member", connectedAt: Date.now() });
    }
  });
  const watcher = await open(name, "watcher");
  await runInDurableObject(orgStub(name), (_s, state) => state.storage.setAlarm(Date.now() + 3_600_000));
  return watcher;
}

async function burst(org: string, watcher: Client, round: number) {
  inside.fetch = inside.accept = 0;
  const t0 = performance.now();
  const names = Array.from({ length: BURST }, (_, i) => `b-${round}-${i}`);
  const clients = await Promise.all(names.map((n) => open(org, n)));
  const lastWelcome = performance.now() - t0;
  const r = { fetch: inside.fetch / BURST, accept: inside.accept / BURST, lastWelcome };
  const heard: string[] = [];
  for (let i = 0; i < BURST; i++) heard.push((await watcher.next<{ event: string; userId: string }>()).userId);
  expect(heard.sort()).toEqual([...names].sort());
  for (const c of clients) c.close();
  // The leaves: every close has been handled before the next round.
  for (let i = 0; i < BURST; i++) expect(await watcher.next()).toMatchObject({ event: "leave" });
  return r;
}

it(`${BURST} new users at once: empty org vs ${BIG} sockets`, { timeout: 600_000 }, async () => {
  const orgs = { empty: await setup("org-burst-empty", 0), big: await setup("org-burst-big", BIG) };
  const out = { empty: { fetch: [] as number[], accept: [] as number[], lastWelcome: [] as number[] }, big: { fetch: [] as number[], accept: [] as number[], lastWelcome: [] as number[] } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const k of round % 2 ? (["empty", "big"] as const) : (["big", "empty"] as const)) {
      const r = await burst(`org-burst-${k}`, orgs[k], round);
      out[k].fetch.push(r.fetch);
      out[k].accept.push(r.accept);
      out[k].lastWelcome.push(r.lastWelcome);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const row = (label: string, f: "fetch" | "accept" | "lastWelcome") =>
    `| ${label} | ${med(out.empty[f]).toFixed(2)} | ${med(out.big[f]).toFixed(2)} | ${(med(out.big[f]) / med(out.empty[f])).toFixed(2)} |`;
  console.info(
    [
      `| ms, median of ${ROUNDS} rounds of ${BURST} new users at once | empty org | ${BIG} other sockets | ratio |`,
      "|---|---|---|---|",
      row("in the object, fetch → 101 (a pending join included)", "fetch"),
      row("in the object, accept → 101", "accept"),
      row("at the client, the burst's last welcome", "lastWelcome"),
    ].join("\n"),
  );
  for (const w of Object.values(orgs)) w.close();
});
