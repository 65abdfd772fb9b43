// The Worker's edge: bad percent-encoding (issue 13 item 7), null header members (item 6),
// stub errors (issue 18 item 7) and structured logs without tokens.
import { env, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { calculateJwkThumbprint, exportJWK, importPKCS8 } from "jose";
import { toHttpError } from "../src/errors";
import { errorOf, upgradeHeaders, userToken } from "./helpers";

afterEach(() => vi.restoreAllMocks());

describe("percent-encoding in the path", () => {
  it.each([
    ["/orgs/%E0%A4%A/ws", "GET"],
    ["/orgs/%ZZ/publish", "POST"],
    ["/orgs/%/ws", "GET"],
    ["/orgs/%C0%AF/ws", "GET"],
  ])("%s answers 404 not_found, with no error log", async (path, method) => {
    const errors = vi.spyOn(console, "error");
    const res = await SELF.fetch(`https://router.test${path}`, { method, headers: upgradeHeaders() });
    expect(await errorOf(res)).toEqual([404, "not_found"]);
    expect(errors).not.toHaveBeenCalled();
  });
});

const b64url = (b: Uint8Array | string) =>
  btoa(typeof b === "string" ? b : String.fromCharCode(...b)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

/** A token signed with the test key whose header carries `extra` members, as written. */
async function tokenWithHeader(extra: string): Promise<string> {
  const key = await importPKCS8(env.TEST_PRIVATE_KEY, "RS256", { extractable: true });
  const kid = await calculateJwkThumbprint(await exportJWK(key), "sha256");
  const now = Math.floor(Date.now() / 1000);
  const header = `{"alg":"RS256","typ":"JWT","kid":"${kid}",${extra}}`;
  const payload = JSON.stringify({
    iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE, sub: "nora", userId: "nora", orgId: "acme", role: "member",
    iat: now, nbf: now, exp: now + 60, jti: `hdr-${now}-${Math.random().toString(36).slice(2)}`,
  });
  const input = `${b64url(header)}.${b64url(payload)}`;
  const sig = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, new TextEncoder().encode(input));
  return `${input}.${b64url(new Uint8Array(sig))}`;
}

describe("refused header members", () => {
  it.each(['"crit":null', '"jku":null', '"x5u":null', '"jwk":null', '"x5c":null', '"crit":["exp"]', '"x5c":[]'])(
    "%s is malformed, whatever its value",
    async (member) => {
      const tok = await tokenWithHeader(member);
      const res = await SELF.fetch("https://router.test/orgs/acme/ws", { headers: upgradeHeaders({ Authorization: `Bearer ${tok}` }) });
      expect(await errorOf(res)).toEqual([401, "malformed"]);
    },
  );
});

describe("Durable Object stub errors", () => {
  it.each([
    ["overloaded", Object.assign(new Error("Durable Object is overloaded"), { overloaded: true, retryable: false }), 503, "unavailable"],
    ["retryable", Object.assign(new Error("reset"), { retryable: true }), 503, "unavailable"],
    ["other", new Error("boom"), 500, "internal"],
  ])("%s → %i %s", (_name, e, status, code) => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const got = toHttpError(e);
    expect([got.status, got.code]).toEqual([status, code]);
    if (status === 503) expect(got.headers["Retry-After"]).toBe("1");
  });
});

describe("structured logs", () => {
  it("logs refused handshakes with reason and org, connects and closes, never the token", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(" ")));
    const signed = await userToken("logan", "org-logs");
    const bad = signed.slice(0, -4) + (signed.endsWith("AAAA") ? "BBBB" : "AAAA");
    let res = await SELF.fetch("https://router.test/orgs/org-logs/ws", { headers: upgradeHeaders({ Authorization: `Bearer ${bad}` }) });
    expect(res.status).toBe(401);
    const good = await userToken("logan", "org-logs");
    res = await SELF.fetch("https://router.test/orgs/org-logs/ws", { headers: upgradeHeaders({ Authorization: `Bearer ${good}` }) });
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    const closed = new Promise((r) => res.webSocket!.addEventListener("close", r));
    res.webSocket!.close(1000, "bye");
    await closed;
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events).toContainEqual({ event: "handshake_refused", org: "org-logs", status: 401, reason: "bad_signature" });
    expect(events).toContainEqual(expect.objectContaining({ event: "connect", org: "org-logs", user: "logan" }));
    expect(events).toContainEqual(expect.objectContaining({ event: "close", org: "org-logs", user: "logan", code: 1000 }));
    for (const l of lines) {
      for (const tok of [bad, good]) for (const part of tok.split(".")) expect(l).not.toContain(part);
    }
  });
});
