// The Worker's ALLOWED_ORIGINS rules against the shared vectors; internal/httpx/origins_test.go
// runs the same file through the Go issuer's and proxy's matcher.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import vectors from "../../testdata/vectors/origins.json";
import { getConfig } from "../src/config";
import { originMatches, parseOriginPattern } from "../src/origins";

describe("shared origin vectors", () => {
  it("are all there", () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(20);
  });
  it.each(vectors.valid)("accepts the pattern %j", (p) => {
    expect(() => parseOriginPattern(p)).not.toThrow();
  });
  it.each(vectors.invalid)("refuses the pattern %j", (p) => {
    expect(() => parseOriginPattern(p)).toThrow(/not an origin/);
  });
  // The list is split and trimmed as in Go (issuer.SplitList): an entry the vectors refuse is
  // refused inside a list too, not trimmed into validity first.
  it.each(vectors.invalid.filter((p) => p.trim() !== p))("refuses %j inside ALLOWED_ORIGINS", async (p) => {
    await expect(getConfig({ ...env, ALLOWED_ORIGINS: `https://ok.test,${p}` } as Env)).rejects.toThrow(/not an origin/);
  });
  it.each(vectors.socketInvalid)("the Worker refuses %j for sockets", async (list) => {
    for (const o of list.split(",")) expect(() => parseOriginPattern(o)).not.toThrow(); // valid for CORS
    await expect(getConfig({ ...env, ALLOWED_ORIGINS: list } as Env)).rejects.toThrow(/would let any website/);
  });
  it.each(vectors.cases.map((c) => [c.allowed.join(","), c.origin, c.want] as const))("%s allows %j: %s", (allowed, origin, want) => {
    const patterns = allowed === "" ? [] : allowed.split(",").map(parseOriginPattern);
    expect(patterns.some((p) => originMatches(p, origin))).toBe(want);
  });
});
