// office-router Worker: validates the handshake token and routes the socket to the
// WebSocketServer Durable Object of the token's organisation. Contract: docs/protocol.md,
// docs/reason-codes.md, docs/configuration.md. The Go edge proxy (proxy/) is its twin.
import type { Env } from "./env";
import { getConfig, originAllowed, type RouterConfig } from "./config";
import { IDENTITY_HEADERS, logEvent, MAX_MESSAGE_BYTES } from "./do";
import { extractToken } from "./extract";
import { JSONError, parseTopObject } from "./json";
import { isValidId, TokenError, verifyHandshake, verifyPublish } from "./verify";

export { WebSocketServer } from "./do";

const ROUTE = /^\/orgs\/([^/]+)\/(ws|publish)$/;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code);
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store", ...headers },
  });
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Seconds a client should wait after 503 unavailable. */
export const RETRY_AFTER_SECONDS = 1;

/** A Durable Object stub error the platform marks as worth retrying (overloaded, or reset). */
function transient(e: unknown): boolean {
  const f = e as { overloaded?: unknown; retryable?: unknown } | null;
  return typeof f === "object" && f !== null && (f.overloaded === true || f.retryable === true);
}

/** The one place errors become responses: token reasons are 401, everything else carries its own status. */
export function toHttpError(e: unknown): HttpError {
  if (e instanceof TokenError) return new HttpError(401, e.reason);
  if (e instanceof HttpError) return e;
  if (transient(e)) return new HttpError(503, "unavailable", { "Retry-After": String(RETRY_AFTER_SECONDS) });
  console.error("office-router: internal error:", e instanceof Error ? e.message : String(e));
  return new HttpError(500, "internal");
}

/** Path segments are percent-decoded once; bad encoding is an unknown route, not an error. */
function decodeSegment(seg: string): string | undefined {
  try {
    return decodeURIComponent(seg);
  } catch {
    return undefined;
  }
}

function corsHeaders(cfg: RouterConfig | undefined, origin: string | null): Record<string, string> {
  if (!cfg || origin === null || !originAllowed(cfg, origin)) return {};
  return { "Access-Control-Allow-Origin": origin, Vary: "Origin" };
}

/** A request with Upgrade: websocket must be a well-formed handshake before any token work. */
function checkUpgrade(request: Request): void {
  if (request.method !== "GET") throw new HttpError(405, "method_not_allowed", { Allow: "GET" });
  if (request.headers.get("Sec-WebSocket-Version") !== "13") {
    throw new HttpError(426, "unsupported_websocket_version", { "Sec-WebSocket-Version": "13" });
  }
  const key = request.headers.get("Sec-WebSocket-Key") ?? "";
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) throw new HttpError(400, "bad_handshake");
}

async function handleSocket(request: Request, env: Env, cfg: RouterConfig, pathOrg: string, cors: Record<string, string>): Promise<Response> {
  const upgrade = (request.headers.get("Upgrade") ?? "").toLowerCase() === "websocket";
  if (upgrade) checkUpgrade(request);
  else if (request.method !== "GET") throw new HttpError(405, "method_not_allowed", { Allow: "GET, OPTIONS" });
  const origin = request.headers.get("Origin");
  if (origin !== null && !originAllowed(cfg, origin)) throw new HttpError(403, "origin_not_allowed");
  const { token, select } = extractToken(request.headers);
  const id = await verifyHandshake(token, cfg, nowSeconds());
  if (id.orgId !== pathOrg) throw new HttpError(403, "org_mismatch");
  const stub = env.WEBSOCKET_SERVER.get(env.WEBSOCKET_SERVER.idFromName(id.orgId));
  if (!upgrade) {
    // Pre-flight: same checks, replay included, but the jti is not consumed (docs/protocol.md).
    if (await stub.jtiUsed(id.jti)) throw new TokenError("replayed");
    return json(200, { ok: true, userId: id.userId, orgId: id.orgId, role: id.role, expiresAt: id.expiresAt }, cors);
  }
  // Identity travels in headers the Worker sets itself; client-supplied ones never reach the DO.
  const headers = new Headers({
    Upgrade: "websocket",
    [IDENTITY_HEADERS.userId]: id.userId,
    [IDENTITY_HEADERS.orgId]: id.orgId,
    [IDENTITY_HEADERS.role]: id.role,
    [IDENTITY_HEADERS.jti]: id.jti,
    [IDENTITY_HEADERS.replayUntil]: String(id.expiresAt + cfg.leewaySeconds),
    [IDENTITY_HEADERS.subprotocol]: select,
  });
  const res = await stub.fetch("https://do/connect", { headers });
  if (res.status !== 101) {
    // The DO's own refusals (replayed, expired, too_many_connections) go through the one mapping.
    const code = ((await res.json().catch(() => ({}))) as { error?: string }).error ?? "internal";
    if (res.status === 401) throw new TokenError(code as "replayed");
    throw new HttpError(res.status, code);
  }
  return res;
}

/**
 * Reads at most `max` bytes of a body, counting while reading: a chunked or lying body is cut off
 * at the limit instead of being buffered in full. Invalid UTF-8 is a bad request.
 */
async function readBody(request: Request, max: number): Promise<string> {
  const len = request.headers.get("Content-Length");
  if (len !== null && Number(len) > max) throw new HttpError(413, "body_too_large");
  if (request.body === null) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new HttpError(413, "body_too_large");
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(all);
  } catch {
    throw new HttpError(400, "bad_request");
  }
}

/**
 * The publish body contract (docs/protocol.md): a JSON object with exactly the keys `data`
 * (required, any JSON value) and optionally `to` (a user id string), read by the tokens' strict
 * reader (the twin of verifier/publish.go). Anything else, case variants, duplicates at any depth
 * and `"to": null` included, is 400 bad_request and reaches no one.
 */
export function parsePublishBody(text: string): { to: string | null; data: string } {
  let members;
  try {
    members = parseTopObject(text);
  } catch (e) {
    if (e instanceof JSONError) throw new HttpError(400, "bad_request");
    throw e;
  }
  for (const k of members.keys()) if (k !== "data" && k !== "to") throw new HttpError(400, "bad_request");
  const data = members.get("data");
  if (!data) throw new HttpError(400, "bad_request");
  const to = members.get("to");
  if (to && (to.kind !== "string" || !isValidId(to.str!))) throw new HttpError(400, "bad_request");
  return { to: to ? to.str! : null, data: data.raw! };
}

async function handlePublish(request: Request, env: Env, cfg: RouterConfig, pathOrg: string): Promise<Response> {
  if (request.method !== "POST") throw new HttpError(405, "method_not_allowed", { Allow: "POST" });
  const auth = request.headers.get("Authorization") ?? "";
  const m = /^Bearer +(\S+)\s*$/i.exec(auth.trim());
  if (auth === "") throw new TokenError("missing_token");
  if (!m) throw new TokenError("malformed");
  const id = await verifyPublish(m[1], cfg, nowSeconds());
  if (id.orgId !== pathOrg) throw new HttpError(403, "org_mismatch");
  const body = parsePublishBody(await readBody(request, MAX_MESSAGE_BYTES));
  const stub = env.WEBSOCKET_SERVER.get(env.WEBSOCKET_SERVER.idFromName(id.orgId));
  // Single-use, like handshake tokens: the DO records the jti before delivering.
  const res = await stub.publish(id.jti, id.expiresAt + cfg.leewaySeconds, body.to, body.data);
  if (!res.ok) throw new TokenError(res.reason);
  return json(200, { delivered: res.delivered });
}

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return json(200, { status: "ok" });
    let cfg: RouterConfig | undefined;
    let route: string | undefined;
    let pathOrg: string | undefined;
    const origin = request.headers.get("Origin");
    try {
      try {
        cfg = await getConfig(env);
      } catch (e) {
        console.error("office-router: bad configuration:", e instanceof Error ? e.message : String(e));
        throw new HttpError(500, "misconfigured");
      }
      const cors = corsHeaders(cfg, origin);
      const m = ROUTE.exec(url.pathname);
      const org = m ? decodeSegment(m[1]) : undefined;
      if (!m || org === undefined || !isValidId(org)) throw new HttpError(404, "not_found");
      route = m[2];
      pathOrg = org;
      if (request.method === "OPTIONS" && request.headers.get("Access-Control-Request-Method")) {
        if (!cors["Access-Control-Allow-Origin"]) throw new HttpError(403, "origin_not_allowed");
        return new Response(null, {
          status: 204,
          headers: { ...cors, "Access-Control-Allow-Methods": "GET, POST, OPTIONS", "Access-Control-Allow-Headers": "Authorization, Content-Type", "Access-Control-Max-Age": "600" },
        });
      }
      if (m[2] === "ws") return await handleSocket(request, env, cfg, pathOrg, cors);
      return await handlePublish(request, env, cfg, pathOrg);
    } catch (e) {
      const err = toHttpError(e);
      // Structured, and never the token: the reason and the org of the path are enough to debug.
      if (route === "ws") logEvent("handshake_refused", { org: pathOrg, status: err.status, reason: err.code });
      else if (route === "publish") logEvent("publish_refused", { org: pathOrg, status: err.status, reason: err.code });
      return json(err.status, { error: err.code }, { ...corsHeaders(cfg, origin), ...err.headers });
    }
  },
} satisfies ExportedHandler<Env>;
