// Runs testdata/vectors/publish.json (format: testdata/vectors/README.md) through the Worker and
// its Durable Object; proxy/publish_vectors_test.go runs the same file through the Go proxy.
import { SELF } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import vectors from "../../testdata/vectors/publish.json";
import { connect, framesBefore, publishToken, userToken, type Client } from "./helpers";

interface Case {
  name: string;
  body?: string;
  bodyBase64?: string;
  want: { status: number; error?: string; deliver?: "org" | "user"; to?: string; data?: unknown };
}

const { org, online } = vectors as { org: string; online: string[] };
const cases = (vectors as { cases: Case[] }).cases;
const sockets = new Map<string, Client>();

beforeAll(async () => {
  for (const u of online) {
    const c = await connect(await userToken(u, org), org);
    await c.next();
    sockets.set(u, c);
  }
  for (const c of sockets.values()) await framesBefore(c); // joins
});

afterAll(async () => {
  for (const c of sockets.values()) c.close();
});

describe("shared publish vectors", () => {
  it("has at least 60 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const body = c.bodyBase64 !== undefined ? Uint8Array.from(atob(c.bodyBase64), (ch) => ch.charCodeAt(0)) : c.body!;
    const res = await SELF.fetch(`https://router.test/orgs/${org}/publish`, {
      method: "POST",
      headers: { Authorization: `Bearer ${await publishToken(org)}`, "Content-Type": "application/json" },
      body,
    });
    expect(res.status).toBe(c.want.status);
    const answer = (await res.json()) as { error?: string; delivered?: number };
    if (c.want.status !== 200) expect(answer).toEqual({ error: c.want.error });
    for (const [user, sock] of sockets) {
      const gets = c.want.status === 200 && (c.want.deliver === "org" || c.want.to === user);
      expect(await framesBefore(sock)).toEqual(gets ? [{ type: "event", data: c.want.data }] : []);
    }
  });
});
