// Presence under closes the server starts, and dead connections (issue 18 items 3 and 4).
import { runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CLOSE_PING_TIMEOUT, PING_PERIOD_MS, PING_TIMEOUT_MS } from "../src/do";
import { connect, connectHalfOpen, framesBefore, orgStub, upgradeHeaders, userToken } from "./helpers";

describe("presence", () => {
  it("announces leave once when a socket the server closed completes its close last", async () => {
    const org = "org-leave-once";
    const w = await connect(await userToken("watcher", org), org);
    await w.next();
    const slow = await connectHalfOpen(await userToken("u", org), org);
    await slow.next();
    expect(await w.next()).toMatchObject({ event: "join", userId: "u" });
    const other = await connect(await userToken("u", org), org);
    await other.next();

    // The server closes one socket (1009); its client never answers, so the close is not complete.
    slow.send({ type: "broadcast", data: "x".repeat(70 * 1024) });
    expect((await slow.closed).code).toBe(1009);
    // The user's other socket leaves: the closing one still counts, so no leave yet.
    other.close();
    await other.closed;
    expect(await framesBefore(w)).toEqual([]);

    // The slow client finally answers: now the user is gone, announced once.
    slow.ws.close(1000, "late");
    expect(await w.next()).toEqual({ type: "presence", event: "leave", userId: "u", role: "member" });
    expect(await framesBefore(w)).toEqual([]);
    w.close();
  });
});

describe("welcome", () => {
  it("lists exactly the present users, sorted by user id, through joins and leaves", async () => {
    // The object inserts a join into the welcome's presence list at its place and cuts a leave
    // out; the order is the user ids' byte order, as the Go hub's and GET presence's.
    const org = "org-welcome-list";
    const open = async (u: string) => {
      const c = await connect(await userToken(u, org, u === "b" ? "admin" : "member"), org);
      return { c, presence: (await c.next<{ presence: { userId: string; role: string }[] }>()).presence };
    };
    const entry = (userId: string) => ({ userId, role: userId === "b" ? "admin" : "member" });
    const a = await open("a");
    const b = await open("b");
    const c = await open("c");
    expect(c.presence).toEqual(["a", "b", "c"].map(entry));
    const a2 = await open("a"); // already online: the list does not change
    expect(a2.presence).toEqual(["a", "b", "c"].map(entry));
    b.c.close();
    await b.c.closed;
    const d = await open("d");
    expect(d.presence).toEqual(["a", "c", "d"].map(entry));
    const b2 = await open("b");
    expect(b2.presence).toEqual(["a", "b", "c", "d"].map(entry)); // into the middle
    // The first and the last of the list leave.
    for (const x of [a, a2, b2]) x.c.close();
    for (const x of [a, a2, b2]) await x.c.closed;
    const e = await open("e");
    expect(e.presence).toEqual(["c", "d", "e"].map(entry));
    // Everyone leaves, then the list starts again.
    for (const x of [c, d, e]) x.c.close();
    for (const x of [c, d, e]) await x.c.closed;
    const f = await open("f");
    expect(f.presence).toEqual(["f"].map(entry));
    const g = await open("g");
    expect(g.presence).toEqual(["f", "g"].map(entry));
    const z = await open("Z"); // upper case sorts first in byte order: into the head
    expect(z.presence).toEqual(["Z", "f", "g"].map(entry));
    for (const x of [f, g, z]) x.c.close();
  });
});

describe("welcome, a user on connections of two roles", () => {
  it("lists the role of the user's earliest present connection, as the Go hub does, before and after a wake-up", async () => {
    // The Go hub lists online[user][0].id.Role: the earliest connection still present. The object
    // rebuilds its roster after a wake-up from the first socket it lists; it must not keep the
    // role of a connection that has closed meanwhile.
    const org = "org-welcome-role";
    const stub = orgStub(org);
    const open = async (u: string, role = "member") => {
      const c = await connect(await userToken(u, org, role), org);
      return { c, presence: (await c.next<{ presence: { userId: string; role: string }[] }>()).presence };
    };
    const first = await open("u", "admin");
    const second = await open("u", "member");
    const third = await open("u", "viewer");
    // Connects a millisecond apart or less share a time: make the order of the three certain.
    await runInDurableObject(stub, (instance, state) => {
      const order = ["admin", "member", "viewer"];
      for (const ws of state.getWebSockets("u")) {
        const att = ws.deserializeAttachment() as { role: string; connectedAt: number };
        ws.serializeAttachment({ ...att, connectedAt: Date.now() - 1000 + order.indexOf(att.role) });
      }
      Object.assign(instance as unknown as object, { attachments: new WeakMap() });
    });
    const x = await open("x");
    expect(x.presence).toEqual([{ userId: "u", role: "admin" }, { userId: "x", role: "member" }]);
    first.c.close();
    await first.c.closed;
    // The close is handled before x's probe is answered: x gets no leave (u is still online).
    expect(await framesBefore(x.c)).toEqual([]);
    const y = await open("y");
    expect(y.presence).toEqual([{ userId: "u", role: "member" }, { userId: "x", role: "member" }, { userId: "y", role: "member" }]);
    await runInDurableObject(stub, (instance) => {
      Object.assign(instance as unknown as object, { roster: undefined, presenceJson: undefined, socketCount: undefined, attachments: new WeakMap() });
    });
    const z = await open("z");
    expect(z.presence.find((p) => p.userId === "u")).toEqual({ userId: "u", role: "member" });
    // The earliest left now is the third.
    second.c.close();
    await second.c.closed;
    // x heard y and z join, and no leave: u is still online.
    expect(await framesBefore(x.c)).toEqual(["y", "z"].map((userId) => ({ type: "presence", event: "join", userId, role: "member" })));
    const v = await open("v");
    expect(v.presence.find((p) => p.userId === "u")).toEqual({ userId: "u", role: "viewer" });
    for (const c of [third, x, y, z, v]) c.c.close();
  });
});

describe("after a wake-up", () => {
  it("rebuilds presence and caps from the sockets, not from memory", async () => {
    const org = "org-wake";
    const stub = orgStub(org);
    const a = await connect(await userToken("a", org), org);
    await a.next();
    const b = await connect(await userToken("b", org), org);
    await b.next();
    await a.next(); // join b
    // What hibernation loses: everything the object kept in memory.
    await runInDurableObject(stub, (instance) => {
      const mem = instance as unknown as { roster: unknown; attachments: WeakMap<object, unknown>; limits: { maxConnsPerUser: number } };
      mem.roster = undefined;
      Object.assign(mem, { socketCount: undefined, presenceJson: undefined });
      mem.attachments = new WeakMap();
      mem.limits.maxConnsPerUser = 1;
    });
    const c = await connect(await userToken("c", org), org);
    const w = await c.next<{ presence: { userId: string }[] }>();
    expect(w.presence.map((p) => p.userId).sort()).toEqual(["a", "b", "c"]);
    // The per-user cap counts the sockets the runtime holds.
    const res = await SELF.fetch(`https://router.test/orgs/${org}/ws`, { headers: upgradeHeaders({ Authorization: `Bearer ${await userToken("a", org)}` }) });
    expect(res.status).toBe(429);
    b.close();
    expect(await a.next()).toMatchObject({ event: "join", userId: "c" });
    expect(await a.next()).toEqual({ type: "presence", event: "leave", userId: "b", role: "member" });
    a.close();
    c.close();
  });
});

describe("dead connections", () => {
  it("keeps a socket that pings once a minute (a hidden browser tab), as the Go hub's 70 s does", async () => {
    // Chrome aligns the chained timers of a page hidden for 5 minutes to one wake-up a minute, so
    // the client's 30 s ping arrives every 60 s, plus the network's jitter.
    const org = "org-hidden-tab";
    const stub = orgStub(org);
    const c = await connect(await userToken("tab", org), org);
    await c.next();
    c.ws.send("ping");
    expect(await c.next<unknown>()).toBe("pong");
    const [late, dead] = await runInDurableObject(stub, async (instance, state) => {
      const pinged = state.getWebSocketAutoResponseTimestamp(state.getWebSockets("tab")[0])!.getTime();
      const late = await instance.sweep(pinged + 60_000 + 500);
      return [late, await instance.sweep(pinged + PING_TIMEOUT_MS)];
    });
    expect(late).toBe(0);
    expect(dead).toBe(1);
    expect((await c.closed).code).toBe(CLOSE_PING_TIMEOUT);
  });

  it("takes a socket that never finishes the server's close for dead, even if it keeps pinging", async () => {
    const org = "org-dead-closing";
    const stub = orgStub(org);
    const w = await connect(await userToken("watcher", org), org);
    await w.next();
    const ghost = await connectHalfOpen(await userToken("ghost", org), org);
    await ghost.next();
    expect(await w.next()).toMatchObject({ event: "join", userId: "ghost" });
    ghost.send({ type: "broadcast", data: "x".repeat(70 * 1024) });
    expect((await ghost.closed).code).toBe(1009);
    // The close began two periods ago; the peer never answered it, but its pings still reach the
    // runtime, which records them as auto-responses.
    await runInDurableObject(stub, (_i, state) => {
      for (const ws of state.getWebSockets("ghost")) {
        const old = Date.now() - PING_TIMEOUT_MS - 1000;
        ws.serializeAttachment({ ...(ws.deserializeAttachment() as object), connectedAt: old, closingAt: old });
      }
    });
    ghost.ws.send("ping");
    w.ws.send("ping");
    expect(await w.next<unknown>()).toBe("pong");
    const pinged = await runInDurableObject(stub, (_i, state) => state.getWebSockets("ghost").map((ws) => state.getWebSocketAutoResponseTimestamp(ws) !== null));
    expect(pinged).toEqual([true]);
    const closed = await runInDurableObject(stub, async (instance) => {
      (instance as unknown as { attachments: WeakMap<object, unknown> }).attachments = new WeakMap();
      return instance.sweep(Date.now());
    });
    expect(closed).toBe(1);
    expect(await w.next()).toEqual({ type: "presence", event: "leave", userId: "ghost", role: "member" });
    ghost.ws.close(1000);
    expect(await framesBefore(w)).toEqual([]);
    w.close();
  });

  it("arms the alarm only while sockets exist", async () => {
    const org = "org-alarm";
    const stub = orgStub(org);
    expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).toBeNull();
    const c = await connect(await userToken("a", org), org);
    await c.next();
    const at = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(at).not.toBeNull();
    expect(at! - Date.now()).toBeLessThanOrEqual(PING_PERIOD_MS);
    // A live socket keeps it armed across a run.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).not.toBeNull();
    c.close();
    await c.closed;
    expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).toBeNull();
  });

  it("closes sockets that sent no ping for two periods with 4000 and announces their leave", async () => {
    const org = "org-dead";
    const stub = orgStub(org);
    const w = await connect(await userToken("watcher", org), org);
    await w.next();
    const dead = await connectHalfOpen(await userToken("dead", org), org);
    await dead.next();
    expect(await w.next()).toMatchObject({ event: "join", userId: "dead" });

    // Both sockets are made older than the timeout; only the watcher pings.
    await runInDurableObject(stub, (_i, state) => {
      for (const ws of state.getWebSockets()) {
        ws.serializeAttachment({ ...(ws.deserializeAttachment() as object), connectedAt: Date.now() - PING_TIMEOUT_MS - 1000 });
      }
    });
    // A fresh instance reads the aged attachments (the in-memory copies are the old ones).
    w.ws.send("ping");
    expect(await w.next<unknown>()).toBe("pong");
    const closed = await runInDurableObject(stub, async (instance) => {
      (instance as unknown as { attachments: WeakMap<object, unknown> }).attachments = new WeakMap();
      return instance.sweep(Date.now());
    });
    expect(closed).toBe(1);
    expect((await dead.closed).code).toBe(CLOSE_PING_TIMEOUT);
    expect(await w.next()).toEqual({ type: "presence", event: "leave", userId: "dead", role: "member" });
    // Whatever it still sends after its leave reaches no one: it is not in the org any more.
    await runInDurableObject(stub, async (instance, state) => {
      const ws = state.getWebSockets("dead")[0];
      await instance.webSocketMessage(ws, JSON.stringify({ type: "broadcast", data: "after leave" }));
      await instance.webSocketMessage(ws, JSON.stringify({ type: "direct", to: "watcher", data: "after leave" }));
    });
    expect(await framesBefore(w)).toEqual([]);
    // The dead socket's late close (if it ever comes) announces nothing more.
    dead.ws.close(1000);
    expect(await framesBefore(w)).toEqual([]);
    w.close();
  });
});
