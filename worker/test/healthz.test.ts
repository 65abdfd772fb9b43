// /healthz says whether the Worker can serve: a missing or bad variable is 503 with the reason
// (the variable's name, never its value), not 200 while every socket gets 500 misconfigured.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../src/index";

const call = (e: Partial<Env>, path = "/healthz") =>
  worker.fetch(new Request(`https://router.test${path}`), { ...env, ...e } as Env);

describe("/healthz", () => {
  it("is 200 when configured", async () => {
    const res = await call({});
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it.each([
    ["no public key", { CONN_JWT_PUBLIC_KEY: "" }, "CONN_JWT_PUBLIC_KEY is required"],
    ["garbage public key", { CONN_JWT_PUBLIC_KEY: "not a pem" }, "CONN_JWT_PUBLIC_KEY"],
    ["no issuer", { JWT_ISSUER: "" }, "JWT_ISSUER is required"],
    ["issuer unset", { JWT_ISSUER: undefined }, "JWT_ISSUER is required"],
    ["no audience", { JWT_AUDIENCE: "" }, "JWT_AUDIENCE is required"],
    ["audience unset", { JWT_AUDIENCE: undefined }, "JWT_AUDIENCE is required"],
    ["public key unset", { CONN_JWT_PUBLIC_KEY: undefined }, "CONN_JWT_PUBLIC_KEY is required"],
    ["blank public key", { CONN_JWT_PUBLIC_KEY: " \n " }, "CONN_JWT_PUBLIC_KEY"],
    ["a PEM block that is not a key", { CONN_JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\nnot a pem\n-----END PUBLIC KEY-----\n" }, "CONN_JWT_PUBLIC_KEY"],
    ["a private key block", { CONN_JWT_PUBLIC_KEY: "-----BEGIN PRIVATE KEY-----\nnot a pem\n-----END PRIVATE KEY-----\n" }, "CONN_JWT_PUBLIC_KEY"],
    ["bad max ttl", { JWT_MAX_TTL_SECONDS: "-1" }, "JWT_MAX_TTL_SECONDS"],
    ["fractional burst", { MESSAGE_BURST: "0.5" }, "MESSAGE_BURST"],
    ["zero rate", { MESSAGES_PER_SECOND: "0" }, "MESSAGES_PER_SECOND"],
    ["negative user cap", { MAX_CONNS_PER_USER: "-1" }, "MAX_CONNS_PER_USER"],
    ["org cap out of range", { MAX_CONNS_PER_ORG: "10000001" }, "MAX_CONNS_PER_ORG"],
    ["org cap not a number", { MAX_CONNS_PER_ORG: "lots" }, "MAX_CONNS_PER_ORG"],
    ["bad leeway", { JWT_LEEWAY_SECONDS: "five" }, "JWT_LEEWAY_SECONDS"],
    ["session age over a day", { MAX_SESSION_SECONDS: "86401" }, "MAX_SESSION_SECONDS"],
    ["session age not whole seconds", { MAX_SESSION_SECONDS: "1.5" }, "MAX_SESSION_SECONDS"],
    ["wildcard without a domain", { ALLOWED_ORIGINS: "https://*" }, "ALLOWED_ORIGINS"],
    // testdata/vectors/origins.json socketInvalid: valid for the issuer's CORS, never for sockets.
    ["a bare * for sockets", { ALLOWED_ORIGINS: "*" }, "would let any website"],
    ["a bare * among others", { ALLOWED_ORIGINS: "https://a.test,*" }, "would let any website"],
  ] as const)("is 503 with the reason: %s", async (_name, vars, reason) => {
    const res = await call(vars);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: string; reason: string };
    expect(body.error).toBe("misconfigured");
    expect(body.reason).toContain(reason);
    expect(body.reason).not.toContain("not a pem");
    // Every other route agrees that nothing can be served.
    const other = await call(vars, "/orgs/acme/ws");
    expect(other.status).toBe(500);
  });

  it("accepts subdomain and any-port patterns", async () => {
    const res = await call({ ALLOWED_ORIGINS: "https://*.example.com, http://localhost:*" });
    expect(res.status).toBe(200);
  });
});
