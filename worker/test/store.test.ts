// The used-jti store: the replay boundary (issue 13 item 5) and rows per connect (issue 18 item 6).
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { connect, orgStub, userToken } from "./helpers";

describe("used jti store", () => {
  it("refuses a jti at and after its until, even once its row was collected", async () => {
    const got = await runInDurableObject(orgStub("org-jti-boundary"), (s) => [
      s.useJti("j1", 1000, 999), // first use, one second before the end of its window
      s.useJti("j1", 1000, 999), // replay inside the window
      s.useJti("j1", 1000, 1000), // replay at the exact boundary: the token is dead
      s.useJti("j2", 1000, 1000), // never seen, but dead at the boundary
      (s.collectJtis(1000), s.useJti("j1", 1000, 1000)), // row gone: still refused
      s.useJti("j1", 1000, 1001),
      s.useJti("j3", 1001, 1000), // a live new jti is accepted
    ]);
    expect(got).toEqual([undefined, "replayed", "expired", "expired", "expired", "expired", undefined]);
  });

  it("keeps an expired-but-uncollected row a replay (looks before it collects)", async () => {
    const got = await runInDurableObject(orgStub("org-jti-order"), (s) => {
      s.useJti("k", 2000, 1990);
      // Whatever the clock says to the collector, the same jti never comes back.
      return [s.useJti("k", 2000, 1999), s.useJti("k", 3000, 1999)];
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
});
