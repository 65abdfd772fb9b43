// Handshake and publish token rules: the twin of verifier/verify.go. The rules and their order
// are in docs/reason-codes.md; testdata/vectors/handshake.json proves the two agree.
import { calculateJwkThumbprint, compactVerify, exportJWK, importSPKI } from "jose";
import { JSONError, parseTopObject, type Value } from "./json";

export const MAX_TOKEN_BYTES = 4096;
export const MIN_RSA_BITS = 2048;

export type Reason =
  | "missing_token" | "token_too_large" | "malformed" | "alg_not_allowed" | "missing_kid"
  | "unknown_kid" | "bad_signature" | "expired" | "not_yet_valid" | "issued_in_future"
  | "lifetime_exceeded" | "wrong_issuer" | "wrong_audience" | "wrong_scope" | "missing_claim"
  | "invalid_claim" | "claim_mismatch" | "replayed";

/** A rejected token, with its public reason code. */
export class TokenError extends Error {
  constructor(readonly reason: Reason) {
    super(reason);
  }
}

export interface VerifyConfig {
  issuer: string;
  audience: string;
  leewaySeconds: number;
  maxTtlSeconds: number;
  keys: Map<string, CryptoKey>;
}

export interface Identity {
  userId: string;
  orgId: string;
  role: string;
  sub: string;
  jti: string;
  expiresAt: number;
}

/** Who a service token (publish, presence, disconnect) speaks for. */
export interface PublishIdentity {
  sub: string;
  orgId: string;
  jti: string;
  expiresAt: number;
}

/** Imports one or more "PUBLIC KEY" PEM blocks (RSA ≥ 2048), indexed by RFC 7638 thumbprint. */
export async function importPublicKeys(pem: string): Promise<Map<string, CryptoKey>> {
  if (!pem.includes("\n") && pem.includes("\\n")) pem = pem.replaceAll("\\n", "\n");
  const blocks = pem.match(/-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----/g) ?? [];
  if (blocks.length === 0) throw new Error("CONN_JWT_PUBLIC_KEY: no PEM key found");
  const keys = new Map<string, CryptoKey>();
  for (const [i, block] of blocks.entries()) {
    if (!block.startsWith("-----BEGIN PUBLIC KEY-----")) {
      throw new Error(`CONN_JWT_PUBLIC_KEY: key ${i + 1} is not a "PUBLIC KEY" block`);
    }
    let key: CryptoKey;
    try {
      key = await importSPKI(block, "RS256", { extractable: true });
    } catch {
      // jose's message ("Invalid SPKI input.") names neither the variable nor the key.
      throw new Error(`CONN_JWT_PUBLIC_KEY: key ${i + 1} is not an RSA public key`);
    }
    const bits = (key.algorithm as unknown as { modulusLength: number }).modulusLength;
    if (bits < MIN_RSA_BITS) {
      throw new Error(`CONN_JWT_PUBLIC_KEY: key ${i + 1} has ${bits} bits; at least ${MIN_RSA_BITS} required`);
    }
    keys.set(await calculateJwkThumbprint(await exportJWK(key), "sha256"), key);
  }
  return keys;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** Strict, unpadded, canonical base64url: re-encoding must give the input back. */
function decodeSegment(seg: string): Uint8Array {
  if (!B64URL.test(seg) || seg.length % 4 === 1) throw new TokenError("malformed");
  const std = seg.replaceAll("-", "+").replaceAll("_", "/");
  let bin: string;
  try {
    bin = atob(std + "===".slice((std.length + 3) % 4));
  } catch {
    throw new TokenError("malformed");
  }
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  const again = btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  if (again !== seg) throw new TokenError("malformed");
  return bytes;
}

// fatal: invalid UTF-8 is malformed; ignoreBOM: a BOM stays in the text and fails the grammar, as in Go.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function parseSegmentJSON(seg: string): Map<string, Value> {
  try {
    return parseTopObject(utf8.decode(decodeSegment(seg)));
  } catch (e) {
    if (e instanceof TokenError) throw e;
    if (e instanceof JSONError || e instanceof TypeError) throw new TokenError("malformed");
    throw e;
  }
}

/** null counts as absent for claims, in both implementations (not for the refused header members). */
function present(m: Map<string, Value>, name: string): Value | undefined {
  const v = m.get(name);
  return v === undefined || v.kind === "null" ? undefined : v;
}

const str = (v: Value | undefined): string => (v?.kind === "string" ? v.str! : "");

/** Rules 1–4; returns the payload members. */
async function verifySignedToken(token: string, cfg: VerifyConfig): Promise<Map<string, Value>> {
  if (token === "") throw new TokenError("missing_token");
  // Counted in UTF-8 bytes, as in Go.
  if (token.length > MAX_TOKEN_BYTES || new TextEncoder().encode(token).length > MAX_TOKEN_BYTES) {
    throw new TokenError("token_too_large");
  }
  const parts = token.split(".");
  if (parts.length !== 3) throw new TokenError("malformed");
  const header = parseSegmentJSON(parts[0]);
  const payload = parseSegmentJSON(parts[1]);
  decodeSegment(parts[2]);

  if (str(present(header, "alg")) !== "RS256") throw new TokenError("alg_not_allowed");
  const typ = present(header, "typ");
  if (typ && str(typ) !== "JWT") throw new TokenError("malformed");
  // Presence, not value: these members are refused even when null (null-as-absent would let a
  // "crit": null through to a library that treats it differently).
  for (const name of ["crit", "jku", "x5u", "jwk", "x5c"]) {
    if (header.has(name)) throw new TokenError("malformed");
  }
  const kid = str(present(header, "kid"));
  if (kid === "") throw new TokenError("missing_kid");
  const key = cfg.keys.get(kid);
  if (!key) throw new TokenError("unknown_kid");
  try {
    await compactVerify(token, key, { algorithms: ["RS256"] });
  } catch {
    throw new TokenError("bad_signature");
  }
  return payload;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function numericDate(p: Map<string, Value>, name: string): number {
  const v = present(p, name);
  if (!v) throw new TokenError("missing_claim");
  if (v.kind !== "number" || !/^-?(0|[1-9][0-9]{0,15})$/.test(v.num!)) throw new TokenError("invalid_claim");
  const n = Number(v.num);
  if (n > MAX_SAFE || n < -MAX_SAFE) throw new TokenError("invalid_claim");
  return n;
}

function timeAndAudience(p: Map<string, Value>, cfg: VerifyConfig, now: number): { exp: number; iat: number } {
  const leeway = cfg.leewaySeconds;
  const exp = numericDate(p, "exp");
  if (now >= exp + leeway) throw new TokenError("expired");
  if (present(p, "nbf")) {
    const nbf = numericDate(p, "nbf");
    if (now + leeway < nbf) throw new TokenError("not_yet_valid");
  }
  const iat = numericDate(p, "iat");
  if (iat > now + leeway) throw new TokenError("issued_in_future");
  if (exp - iat > cfg.maxTtlSeconds) throw new TokenError("lifetime_exceeded");
  const iss = present(p, "iss");
  if (!iss || str(iss) !== cfg.issuer) throw new TokenError("wrong_issuer");
  const aud = present(p, "aud");
  const audOK =
    aud?.kind === "string"
      ? aud.str === cfg.audience
      : aud?.kind === "array" &&
        aud.items!.length > 0 &&
        aud.items!.every((v) => v.kind === "string") &&
        aud.items!.some((v) => v.str === cfg.audience);
  if (!audOK) throw new TokenError("wrong_audience");
  return { exp, iat };
}

function idClaims(p: Map<string, Value>, names: string[]): string[] {
  for (const n of names) if (!present(p, n)) throw new TokenError("missing_claim");
  return names.map((n) => {
    const v = present(p, n)!;
    if (v.kind !== "string") throw new TokenError("invalid_claim");
    return v.str!;
  });
}

const ID = /^[A-Za-z0-9_-]{1,128}$/;
const ROLE = /^[a-z0-9_-]{1,64}$/;
export const isValidId = (s: string): boolean => ID.test(s);

/** Verifies a handshake token at `now` (Unix seconds). Replay is checked by the Durable Object. */
export async function verifyHandshake(token: string, cfg: VerifyConfig, now: number): Promise<Identity> {
  const p = await verifySignedToken(token, cfg);
  const { exp } = timeAndAudience(p, cfg, now);
  if (present(p, "scope")) throw new TokenError("wrong_scope");
  const [sub, userId, orgId, role, jti] = idClaims(p, ["sub", "userId", "orgId", "role", "jti"]);
  if (!ID.test(sub) || !ID.test(userId) || !ID.test(orgId) || !ROLE.test(role) || !ID.test(jti)) {
    throw new TokenError("invalid_claim");
  }
  if (sub !== userId) throw new TokenError("claim_mismatch");
  return { userId, orgId, role, sub, jti, expiresAt: exp };
}

/** The service routes and the scope name each one requires (docs/protocol.md). */
export type ServiceScope = "publish" | "presence" | "disconnect";

/**
 * A `scope` claim: one to sixteen names of `[a-z_]`, each 1–32 long, separated by single spaces.
 * Anything else (not a string, empty, a stray space, upper case) grants nothing.
 */
const SCOPE_LIST = /^[a-z_]{1,32}( [a-z_]{1,32}){0,15}$/;

/** True when `scope` is a well-formed scope list that names `want`; unknown names are allowed. */
export function scopeGrants(scope: Value | undefined, want: ServiceScope): boolean {
  if (scope?.kind !== "string" || !SCOPE_LIST.test(scope.str!)) return false;
  return scope.str!.split(" ").includes(want);
}

/**
 * Verifies a backend service token for the route that needs `want`: rules 0–5f, then a scope
 * list that names `want` (else wrong_scope), then sub/orgId/jti in the ID format. No userId/role.
 */
export async function verifyService(token: string, cfg: VerifyConfig, now: number, want: ServiceScope): Promise<PublishIdentity> {
  const p = await verifySignedToken(token, cfg);
  const { exp } = timeAndAudience(p, cfg, now);
  if (!scopeGrants(p.get("scope"), want)) throw new TokenError("wrong_scope");
  const [sub, orgId, jti] = idClaims(p, ["sub", "orgId", "jti"]);
  if (!ID.test(sub) || !ID.test(orgId) || !ID.test(jti)) throw new TokenError("invalid_claim");
  return { sub, orgId, jti, expiresAt: exp };
}

/** Verifies a backend publish token: a service token whose scope names "publish". */
export const verifyPublish = (token: string, cfg: VerifyConfig, now: number): Promise<PublishIdentity> => verifyService(token, cfg, now, "publish");
