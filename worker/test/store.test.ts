// The used-jti store: the replay boundary (issue 13 item 5) and rows per connect (issue 18 item 6).
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { connect, orgStub, userToken } from "./helpers";

describe("used jti store", () => {
  it("refuses a jti at and after its until, even once its row was collected", async () => {
    const got = await runInDurableObject(orgStub("org-jti-boundary"), (s) => [
      s.jtis.use("j1", 1000, 999), // first use, one second before the end of its window
      s.jtis.use("j1", 1000, 999), // replay inside the window
      s.jtis.use("j1", 1000, 1000), // replay at the exact boundary: the token is dead
      s.jtis.use("j2", 1000, 1000), // never seen, but dead at the boundary
      (s.jtis.collect(1000), s.jtis.use("j1", 1000, 1000)), // row gone: still refused
      s.jtis.use("j1", 1000, 1001),
      s.jtis.use("j3", 1001, 1000), // a live new jti is accepted
    ]);
    expect(got).toEqual([undefined, "replayed", "expired", "expired", "expired", "expired", undefined]);
  });

  it("keeps an expired-but-uncollected row a replay (looks before it collects)", async () => {
    const got = await runInDurableObject(orgStub("org-jti-order"), (s) => {
      s.jtis.use("k", 2000, 1990);
      // Whatever the clock says to the collector, the same jti never comes back.
      return [s.jtis.use("k", 2000, 1999), s.jtis.use("k", 3000, 1999)];
    });
    expect(got).toEqual(["replayed", "replayed"]);
  });

  it("reads and writes a constant number of rows per connect, with 5,000 live entries", async () => {
    const org = "org-jti-rows";
    const stub = orgStub(org);
    await runInDurableObject(stub, (_s, state) => {
      const until = Math.floor(Date.now() / 1000) + 3600;
      for (let i = 0; i < 5000; i++) state.storage.sql.exec("INSERT INTO used_jti (jti, until) VALUES (?, ?)", `seed-${i}`, until);
    });
    const counts = [];
    for (let i = 0; i < 3; i++) {
      const c = await connect(await userToken(`r${i}`, org), org);
      await c.next();
      counts.push(await runInDurableObject(stub, (s) => ({ ...s.lastConnectRows })));
      c.close();
    }
    for (const r of counts) {
      expect(r.read).toBeLessThanOrEqual(5);
      expect(r.written).toBeLessThanOrEqual(3);
    }
  });

  it("collects expired rows from the alarm, reading only those", async () => {
    const org = "org-jti-gc";
    const stub = orgStub(org);
    const c = await connect(await userToken("gc", org), org);
    await c.next();
    await runInDurableObject(stub, (_s, state) => {
      const now = Math.floor(Date.now() / 1000);
      for (let i = 0; i < 300; i++) state.storage.sql.exec("INSERT INTO used_jti (jti, until) VALUES (?, ?)", `old-${i}`, now - 1);
      for (let i = 0; i < 700; i++) state.storage.sql.exec("INSERT INTO used_jti (jti, until) VALUES (?, ?)", `live-${i}`, now + 3600);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const left = await runInDurableObject(stub, (_s, state) => {
      const now = Math.floor(Date.now() / 1000);
      const dead = state.storage.sql.exec("SELECT COUNT(*) AS n FROM used_jti WHERE until <= ?", now).one().n;
      const live = state.storage.sql.exec("SELECT COUNT(*) AS n FROM used_jti WHERE jti LIKE 'live-%'").one().n;
      // With the index, collecting reads the expired rows, not the table.
      const plan = state.storage.sql.exec("EXPLAIN QUERY PLAN DELETE FROM used_jti WHERE until <= ?", now).toArray();
      return { dead, live, plan: JSON.stringify(plan) };
    });
    expect(left.dead).toBe(0);
    expect(left.live).toBe(700);
    expect(left.plan).toContain("used_jti_until");
    c.close();
  });
});
