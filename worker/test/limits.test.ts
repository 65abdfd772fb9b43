// The Durable Object's limits, with the Go proxy's names and defaults (issue 13 item 9).
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { limitsFromEnv } from "../src/config";
import { tooBig, utf8Length } from "../src/frames";
import { connect, errorOf, orgStub, upgradeHeaders, userToken, type Client } from "./helpers";

const wsURL = (org: string) => `https://router.test/orgs/${org}/ws`;

describe("connection caps", () => {
  it("uses the proxy's defaults", () => {
    expect(limitsFromEnv({ ...env, MAX_CONNS_PER_USER: undefined, MAX_CONNS_PER_ORG: "", MESSAGES_PER_SECOND: undefined, MESSAGE_BURST: undefined, MAX_SESSION_SECONDS: undefined })).toEqual({
      maxConnsPerUser: 16,
      maxConnsPerOrg: 10000,
      messagesPerSecond: 50,
      messageBurst: 100,
      maxSessionSeconds: 0,
    });
  });

  it.each([
    ["MAX_CONNS_PER_USER", "0"],
    ["MAX_CONNS_PER_ORG", "-1"],
    ["MESSAGES_PER_SECOND", "fast"],
    ["MESSAGE_BURST", "1e3"],
    ["MAX_SESSION_SECONDS", "86401"],
    ["MAX_SESSION_SECONDS", "-1"],
    ["MAX_SESSION_SECONDS", "1h"],
  ])("refuses %s=%s, naming the variable", (name, value) => {
    expect(() => limitsFromEnv({ ...env, [name]: value })).toThrow(name);
  });

  it("refuses the 17th socket of one user with 429 too_many_connections, and counts closes", async () => {
    const org = "org-cap-user";
    const socks: Client[] = [];
    for (let i = 0; i < 16; i++) {
      const c = await connect(await userToken("greedy", org), org);
      await c.next();
      socks.push(c);
    }
    const res = await SELF.fetch(wsURL(org), { headers: upgradeHeaders({ Authorization: `Bearer ${await userToken("greedy", org)}` }) });
    expect(await errorOf(res)).toEqual([429, "too_many_connections"]);
    // Another user of the same org is not affected.
    const other = await connect(await userToken("modest", org), org);
    await other.next();
    // A closed socket frees its slot.
    socks[0].close();
    await socks[0].closed;
    const again = await connect(await userToken("greedy", org), org);
    expect(await again.next()).toMatchObject({ type: "welcome" });
    for (const c of [...socks.slice(1), other, again]) c.close();
  });

  it("refuses sockets over MAX_CONNS_PER_ORG, counted from the runtime's list", async () => {
    const org = "org-cap-org";
    const stub = orgStub(org);
    await runInDurableObject(stub, (instance) => {
      (instance as unknown as { limits: { maxConnsPerOrg: number } }).limits.maxConnsPerOrg = 3;
    });
    const socks: Client[] = [];
    for (const u of ["a", "b", "c"]) {
      const c = await connect(await userToken(u, org), org);
      await c.next();
      socks.push(c);
    }
    const res = await SELF.fetch(wsURL(org), { headers: upgradeHeaders({ Authorization: `Bearer ${await userToken("d", org)}` }) });
    expect(await errorOf(res)).toEqual([429, "too_many_connections"]);
    for (const c of socks) c.close();
  });

  it("keeps MAX_CONNS_PER_ORG exact through closes with the kept count (no recount margin)", async () => {
    // With no margin the object lists its sockets only to confirm a refusal, so a count that
    // ran below the runtime's list (a close counted twice) would let a sixth socket in.
    const org = "org-cap-count";
    const stub = orgStub(org);
    await runInDurableObject(stub, (instance) => {
      Object.assign(instance as unknown as object, { recountMargin: 0 });
      (instance as unknown as { limits: { maxConnsPerOrg: number } }).limits.maxConnsPerOrg = 5;
    });
    const open = async (u: string) => {
      const c = await connect(await userToken(u, org), org);
      await c.next();
      return c;
    };
    const refused = async (u: string) => {
      const res = await SELF.fetch(wsURL(org), { headers: upgradeHeaders({ Authorization: `Bearer ${await userToken(u, org)}` }) });
      expect(await errorOf(res)).toEqual([429, "too_many_connections"]);
    };
    const socks: Client[] = [];
    for (const u of ["a", "b", "c", "d", "e"]) socks.push(await open(u));
    await refused("f");
    // Three close: each is counted off once, so exactly three more fit.
    for (const c of socks.splice(0, 3)) {
      c.close();
      await c.closed;
    }
    for (const u of ["g", "h", "i"]) socks.push(await open(u));
    await refused("j");
    expect(await runInDurableObject(stub, (_i, state) => state.getWebSockets().length)).toBe(5);
    for (const c of socks) c.close();
  });
});

describe("message rate", () => {
  it("closes a flooding socket with 1008 and delivers at most the burst", async () => {
    const org = "org-flood";
    const w = await connect(await userToken("watcher", org), org);
    await w.next();
    const f = await connect(await userToken("flooder", org), org);
    await f.next();
    await w.next(); // join
    // 1000 messages: within the limit only if the object took over 18 s to read them.
    for (let i = 0; i < 1000; i++) f.send({ type: "broadcast", data: i });
    expect((await f.closed).code).toBe(1008);
    const got: number[] = [];
    for (;;) {
      const m = await w.next<{ type: string; data?: number }>();
      if (m.type === "presence") break; // the flooder's leave ends the stream
      got.push(m.data!);
    }
    expect(got.length).toBeGreaterThanOrEqual(100);
    expect(got.length).toBeLessThan(1000);
    expect(got).toEqual([...got.keys()]); // in order, none lost before the limit
    w.close();
  });
});

describe("frame size", () => {
  it.each([
    ["ASCII at the limit", "a".repeat(65536), false],
    ["ASCII over the limit", "a".repeat(65537), true],
    ["2-byte characters at the limit", "é".repeat(32768), false],
    ["2-byte characters over the limit (length under it)", "é".repeat(32769), true],
    ["4-byte characters over the limit", "😀".repeat(16385), true],
    ["lone surrogates count 3 bytes", "\ud800".repeat(21846), true],
  ])("%s", (_n, s, want) => {
    expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
    expect(tooBig(s)).toBe(want);
  });

  it("closes with 1009 on a frame whose UTF-8 size, not length, passes 64 KiB", async () => {
    const c = await connect(await userToken("wide", "org-wide"), "org-wide");
    await c.next();
    c.send("é".repeat(33000));
    expect((await c.closed).code).toBe(1009);
  });
});
