// Runs every shared publish-body vector (testdata/vectors/publish.json, format in
// testdata/vectors/README.md) through the Worker; proxy/publish_vectors_test.go runs the same
// file through the Go hub and forwarder.
import { env, SELF } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, publishToken, userToken, type Client } from "./helpers";

const { org: vorg, online, cases } = env.PUBLISH_VECTORS;
const org = `${vorg}-vectors`; // its own Durable Object, apart from other test files

/** The events c received before the answer to a probe (welcome and presence frames skipped). */
async function eventsBefore(c: Client): Promise<unknown[]> {
  c.send({ type: "probe" });
  const seen: unknown[] = [];
  for (;;) {
    const m = await c.next<{ type?: string; data?: unknown }>();
    if (m.type === "error") return seen;
    if (m.type === "event") seen.push(m.data);
  }
}

describe("shared publish vectors", () => {
  const clients = new Map<string, Client>();
  beforeAll(async () => {
    for (const u of online) clients.set(u, await connect(await userToken(u, org), org));
    for (const c of clients.values()) await eventsBefore(c); // drain welcome and joins
  });
  afterAll(() => {
    for (const c of clients.values()) c.close();
  });

  it("has at least 50 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(50);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const body = c.bodyBase64 !== undefined ? Uint8Array.from(atob(c.bodyBase64), (ch) => ch.charCodeAt(0)) : c.body!;
    const res = await SELF.fetch(`https://router.test/orgs/${org}/publish`, {
      method: "POST",
      headers: { Authorization: `Bearer ${await publishToken(org)}` },
      body,
    });
    const answer = (await res.json()) as Record<string, unknown>;
    // Read every socket up to its probe answer before asserting, so one failure stays one.
    const got = new Map<string, unknown[]>();
    for (const [u, cl] of clients) got.set(u, await eventsBefore(cl));
    expect(res.status).toBe(c.want.status);
    const expected = new Map<string, unknown[]>();
    for (const u of online) {
      const gets = c.want.status === 200 && (c.want.deliver === "org" || c.want.to === u);
      expected.set(u, gets ? [c.want.data] : []);
    }
    if (c.want.status === 200) {
      expect(answer).toEqual({ delivered: [...expected.values()].filter((e) => e.length > 0).length });
    } else {
      expect(answer).toEqual({ error: c.want.error });
    }
    expect(got).toEqual(expected);
  });
});
