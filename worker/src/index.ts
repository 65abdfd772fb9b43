// office-router Worker: validates the handshake token and routes the socket to the
// WebSocketServer Durable Object of the token's organisation. Contract: docs/protocol.md,
// docs/reason-codes.md, docs/configuration.md. The Go edge proxy (proxy/) is its twin.
import type { Env } from "./env";
import { getConfig, originAllowed, type RouterConfig } from "./config";
import { IDENTITY_HEADERS, MAX_MESSAGE_BYTES } from "./do";
import { extractToken } from "./extract";
import { isValidId, TokenError, verifyHandshake, verifyPublish } from "./verify";

export { WebSocketServer } from "./do";

const ROUTE = /^\/orgs\/([^/]+)\/(ws|publish)$/;

class HttpError extends Error {
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

/** The one place errors become responses: token reasons are 401, everything else carries its own status. */
function errorResponse(e: unknown, cors: Record<string, string>): Response {
  if (e instanceof TokenError) return json(401, { error: e.reason }, cors);
  if (e instanceof HttpError) return json(e.status, { error: e.code }, { ...cors, ...e.headers });
  console.error("office-router: internal error:", e instanceof Error ? e.message : String(e));
  return json(500, { error: "internal" }, cors);
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
    const seen = await stub.fetch("https://do/jti-used", { headers: { [IDENTITY_HEADERS.jti]: id.jti } });
    if (seen.status !== 200) throw new TokenError("replayed");
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
  return stub.fetch("https://do/connect", { headers });
}

async function handlePublish(request: Request, env: Env, cfg: RouterConfig, pathOrg: string): Promise<Response> {
  if (request.method !== "POST") throw new HttpError(405, "method_not_allowed", { Allow: "POST" });
  const auth = request.headers.get("Authorization") ?? "";
  const m = /^Bearer +(\S+)\s*$/i.exec(auth.trim());
  if (auth === "") throw new TokenError("missing_token");
  if (!m) throw new TokenError("malformed");
  const id = await verifyPublish(m[1], cfg, nowSeconds());
  if (id.orgId !== pathOrg) throw new HttpError(403, "org_mismatch");
  const len = Number(request.headers.get("Content-Length") ?? "0");
  if (len > MAX_MESSAGE_BYTES) throw new HttpError(413, "body_too_large");
  const text = await request.text();
  if (new TextEncoder().encode(text).length > MAX_MESSAGE_BYTES) throw new HttpError(413, "body_too_large");
  let body: { to?: unknown; data?: unknown };
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, "bad_request");
  }
  if (typeof body !== "object" || body === null || !("data" in body)) throw new HttpError(400, "bad_request");
  if (body.to !== undefined && (typeof body.to !== "string" || !isValidId(body.to))) throw new HttpError(400, "bad_request");
  const stub = env.WEBSOCKET_SERVER.get(env.WEBSOCKET_SERVER.idFromName(id.orgId));
  return stub.fetch("https://do/publish", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ to: body.to, data: body.data }),
  });
}

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") {
      // Healthy means able to serve: a missing or bad variable is 503 with its name (never its value).
      try {
        await getConfig(env);
        return json(200, { status: "ok" });
      } catch (e) {
        return json(503, { error: "misconfigured", reason: e instanceof Error ? e.message : "misconfigured" });
      }
    }
    let cfg: RouterConfig | undefined;
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
      if (!m || !isValidId(decodeURIComponent(m[1]))) throw new HttpError(404, "not_found");
      const pathOrg = decodeURIComponent(m[1]);
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
      const res = errorResponse(e, corsHeaders(cfg, origin));
      if (env.LOG_REFUSALS === "1") logRefusal(request, url, res, e);
      return res;
    }
  },
} satisfies ExportedHandler<Env>;

/** The dev stack's line per refused request, as cmd/devstack prints for the Go servers; never the token. */
function logRefusal(request: Request, url: URL, res: Response, e: unknown): void {
  const reason = e instanceof TokenError ? e.reason : e instanceof HttpError ? e.code : "internal";
  const m = ROUTE.exec(url.pathname);
  const org = m && isValidId(decodeURIComponent(m[1])) ? ` org=${decodeURIComponent(m[1])}` : "";
  const origin = request.headers.get("Origin");
  console.warn(`refused  worker ${request.method} ${url.pathname} → ${res.status} ${reason}${org}${origin ? ` origin=${JSON.stringify(origin)}` : ""}`);
}
