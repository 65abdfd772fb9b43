// The shared disconnect-body vectors (testdata/vectors/disconnect.json) through the Worker's real
// route and Durable Object; the Go proxy runs the same file through its hub.
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WebSocketServer } from "../src/do";
import { connect, orgStub, token, userToken, type Client } from "./helpers";

const { online, cases } = env.DISCONNECT_VECTORS;

const bodyOf = (c: (typeof cases)[number]): BodyInit =>
  c.bodyBase64 !== undefined ? Uint8Array.from(atob(c.bodyBase64), (ch) => ch.charCodeAt(0)) : c.body!;

describe("shared disconnect vectors", () => {
  it("has cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases.map((c, i) => [c.name, c, i] as const))("%s", async (_name, c, i) => {
    // One org per case, with the vector's users online: a case's closes and blocks stay its own.
    const org = `dv-${i}`;
    const socks = new Map<string, Client>();
    for (const user of online) {
      const s = await connect(await userToken(user, org), org);
      await s.next();
      socks.set(user, s);
    }
    const tok = await token({ scope: "disconnect", sub: "backend", orgId: org, userId: undefined, role: undefined });
    const res = await SELF.fetch(`https://router.test/orgs/${org}/disconnect`, { method: "POST", headers: { Authorization: `Bearer ${tok}` }, body: bodyOf(c) });
    expect(res.status).toBe(c.want.status);
    const got = (await res.json()) as Record<string, unknown>;
    const [until, present] = await runInDurableObject(orgStub(org), async (o: WebSocketServer) => {
      const p = await o.presence(`probe-${i}`, Math.floor(Date.now() / 1000) + 60);
      return [online.concat(c.want.userId ?? []).map((u) => o.blocks.until(u)), p.ok ? p.users.map((u) => u.userId) : []] as const;
    });
    // Only the named user leaves; a refused body closes no one.
    const gone = c.want.status === 200 && c.want.disconnected! > 0 ? c.want.userId : undefined;
    expect(present).toEqual(online.filter((u) => u !== gone).sort());
    if (c.want.status !== 200) {
      expect(got).toEqual({ error: c.want.error });
      expect(until.every((u) => u === undefined)).toBe(true);
    } else {
      expect(got).toEqual({ disconnected: c.want.disconnected });
      const closed = socks.get(c.want.userId!);
      if (closed) {
        const e = await closed.closed;
        expect([e.code, e.reason]).toEqual([c.want.code, c.want.code === 4001 ? "reauth_required" : "revoked"]);
      }
      const blocked = until.filter((u) => u !== undefined);
      expect(blocked.length).toBe(c.want.blockSeconds! > 0 ? 1 : 0);
      if (c.want.blockSeconds! > 0) {
        const left = blocked[0]! - Date.now();
        expect(left).toBeGreaterThan((c.want.blockSeconds! - 5) * 1000);
        expect(left).toBeLessThanOrEqual(c.want.blockSeconds! * 1000);
      }
    }
    for (const [user, s] of socks) if (user !== c.want.userId || c.want.status !== 200) s.close();
  });
});
