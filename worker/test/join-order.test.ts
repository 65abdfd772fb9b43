// A new user's join fan-out goes out after the 101 (do.ts, announceJoin), and still before
// anything a later event of the object does. Apart from the first case, setTimeout is faked, so
// the deferred send never fires by itself: each case shows which event sends the join first.
// (A faked timer would run outside the object's I/O context, so none is ever advanced here.)
import { runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { connect, framesBefore, orgStub, publishToken, userToken, type Client } from "./helpers";

const pending = (org: string) => runInDurableObject(orgStub(org), (s) => (s as unknown as { pendingJoin?: { text: string } }).pendingJoin?.text ?? null);

const joinOf = (userId: string) => ({ type: "presence", event: "join", userId, role: "member" });

/** A member, then a newcomer whose join is still pending when this returns. */
async function setup(org: string): Promise<{ member: Client; newcomer: Client }> {
  const member = await connect(await userToken("member", org), org);
  await member.next();
  const newcomer = await connect(await userToken("newcomer", org), org);
  expect(await newcomer.next()).toMatchObject({ type: "welcome", userId: "newcomer" });
  // The 101 and the welcome came back with the fan-out still to do.
  expect(await pending(org)).toBe(JSON.stringify(joinOf("newcomer")));
  return { member, newcomer };
}

describe("a new user's join", () => {
  it("goes out after the 101 with no other event to send it", async () => {
    const org = "org-join-timer";
    const member = await connect(await userToken("member", org), org);
    await member.next();
    const newcomer = await connect(await userToken("newcomer", org), org);
    await newcomer.next();
    // No request reaches the object now: only its own timer can send the join.
    expect(await member.next()).toEqual(joinOf("newcomer"));
    expect(await pending(org)).toBeNull();
    member.close();
    newcomer.close();
  });
});

describe("a new user's join, still pending after its 101", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("reaches a member before the newcomer's first message, direct or broadcast", async () => {
    const { member, newcomer } = await setup("org-join-direct");
    newcomer.send({ type: "direct", to: "member", data: 1 });
    newcomer.send({ type: "broadcast", data: 2 });
    expect(await member.next()).toEqual(joinOf("newcomer"));
    expect(await member.next()).toEqual({ type: "message", from: "newcomer", data: 1, direct: true });
    expect(await member.next()).toEqual({ type: "message", from: "newcomer", data: 2 });
    member.close();
    newcomer.close();
  });

  it("reaches a member before the answer to that member's own next request", async () => {
    const { member, newcomer } = await setup("org-join-answer");
    expect(await framesBefore(member)).toEqual([joinOf("newcomer")]);
    member.close();
    newcomer.close();
  });

  it("reaches a member before a publish that follows the connect", async () => {
    const org = "org-join-publish";
    const { member, newcomer } = await setup(org);
    const res = await SELF.fetch(`https://router.test/orgs/${org}/publish`, {
      method: "POST",
      headers: { Authorization: `Bearer ${await publishToken(org)}`, "Content-Type": "application/json" },
      body: JSON.stringify({ data: "after" }),
    });
    expect(res.status).toBe(200);
    expect(await member.next()).toEqual(joinOf("newcomer"));
    expect(await member.next()).toEqual({ type: "event", data: "after" });
    member.close();
    newcomer.close();
  });

  it("reaches a member before the newcomer's leave when the newcomer closes at once", async () => {
    const { member, newcomer } = await setup("org-join-leave");
    newcomer.close();
    await newcomer.closed;
    expect(await member.next()).toEqual(joinOf("newcomer"));
    expect(await member.next()).toEqual({ type: "presence", event: "leave", userId: "newcomer", role: "member" });
    member.close();
  });

  it("is sent before the next connect, whose welcome lists the newcomer and which never gets its join", async () => {
    const org = "org-join-next";
    const { member, newcomer } = await setup(org);
    const third = await connect(await userToken("third", org), org);
    const welcome = await third.next<{ presence: { userId: string }[] }>();
    expect(welcome.presence.map((p) => p.userId).sort()).toEqual(["member", "newcomer", "third"]);
    expect(await member.next()).toEqual(joinOf("newcomer"));
    // The third user's join is pending in turn; the member's probe sends it.
    expect(await framesBefore(member)).toEqual([joinOf("third")]);
    expect(await newcomer.next()).toEqual(joinOf("third"));
    expect(await framesBefore(third)).toEqual([]);
    for (const c of [member, newcomer, third]) c.close();
  });
});

describe("joins of users connecting at once", () => {
  it("reach every member exactly for the users its welcome did not list, each once", async () => {
    // Connects that reach the object back to back: each fetch sends the join still pending from
    // the one before, so no welcome is followed by the join of a user it already lists, and
    // nobody misses a join of a user it did not see.
    const org = "org-join-burst";
    const member = await connect(await userToken("member", org), org);
    await member.next();
    const names = Array.from({ length: 8 }, (_, i) => `burst-${i}`);
    const clients = await Promise.all(names.map(async (n) => connect(await userToken(n, org), org)));
    const everyone = ["member", ...names].sort();
    const check = async (c: Client, listed: string[]) => {
      const joins = ((await framesBefore(c)) as { type: string; event?: string; userId: string }[]).map((m) => {
        expect(m).toMatchObject({ type: "presence", event: "join" });
        return m.userId;
      });
      expect(new Set(joins).size).toBe(joins.length);
      expect(joins.filter((u) => listed.includes(u))).toEqual([]);
      expect([...listed, ...joins].sort()).toEqual(everyone);
    };
    for (const c of clients) {
      const w = await c.next<{ type: string; presence: { userId: string }[] }>();
      expect(w.type).toBe("welcome");
      await check(c, w.presence.map((p) => p.userId));
    }
    await check(member, ["member"]);
    for (const c of [member, ...clients]) c.close();
  });
});
