// Runs every shared conformance vector through the Worker's validation; verifier/vectors_test.go
// runs the same file through the Go verifier.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { importPublicKeys, TokenError, verifyHandshake, verifyService, type VerifyConfig } from "../src/verify";

const { config, cases } = env.VECTORS;

async function vectorConfig(): Promise<VerifyConfig> {
  return {
    issuer: config.issuer,
    audience: config.audience,
    leewaySeconds: config.leewaySeconds,
    maxTtlSeconds: config.maxTtlSeconds,
    keys: await importPublicKeys(config.publicKeys),
  };
}

describe("shared handshake vectors", () => {
  it("has at least 60 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const cfg = await vectorConfig();
    let got = "ok";
    let identity: Record<string, unknown> | undefined;
    try {
      if (c.kind === "handshake") {
        const id = await verifyHandshake(c.token, cfg, c.now);
        identity = { userId: id.userId, orgId: id.orgId, role: id.role, sub: id.sub, jti: id.jti, expiresAt: id.expiresAt };
      } else {
        // A service token, presented to the route its kind names (publish, presence, disconnect).
        const id = await verifyService(c.token, cfg, c.now, c.kind);
        identity = { orgId: id.orgId, sub: id.sub, jti: id.jti, expiresAt: id.expiresAt };
      }
    } catch (e) {
      if (!(e instanceof TokenError)) throw e;
      got = e.reason;
    }
    expect(got).toBe(c.want);
    if (c.want === "ok") expect(identity).toEqual(c.identity);
  });
});

describe("key loading", () => {
  it("refuses keys that are not PUBLIC KEY blocks", async () => {
    await expect(importPublicKeys(env.TEST_PRIVATE_KEY)).rejects.toThrow(/PUBLIC KEY/);
  });
  it("refuses input without PEM", async () => {
    await expect(importPublicKeys("nope")).rejects.toThrow(/CONN_JWT_PUBLIC_KEY/);
  });
  it("accepts a PEM squeezed into one line", async () => {
    const keys = await importPublicKeys(config.publicKeys.replaceAll("\n", "\\n"));
    expect(keys.size).toBe(2);
  });
});
