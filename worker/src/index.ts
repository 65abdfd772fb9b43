// office-router Worker, the edge: routing, CORS, origin checks and token verification, then the
// org's WebSocketServer Durable Object (do.ts) for everything stateful: sockets, presence, used
// jtis. Contract: docs/protocol.md, docs/reason-codes.md, docs/configuration.md. The Go edge
// proxy (proxy/) is its twin. Env is generated from wrangler.jsonc (worker-configuration.d.ts).
import { admissionRequest, readRefusal, REFUSAL_STATUS } from "./admission";
import { getConfig, originAllowed, type RouterConfig } from "./config";
import { extractToken } from "./extract";
import { HttpError, toHttpError } from "./errors";
import { MAX_MESSAGE_BYTES } from "./frames";
import { logEvent } from "./log";
import { parseDisconnectBody } from "./disconnect";
import { parsePublishBody, readBody } from "./publish";
import { isValidId, TokenError, verifyHandshake, verifyService, type PublishIdentity, type ServiceScope } from "./verify";

export { WebSocketServer } from "./do";

const ROUTE = /^\/orgs\/([^/]+)\/(ws|publish|presence|disconnect)$/;

/** The method of each service route; its scope is the route's name. */
const SERVICE_METHOD: Record<ServiceScope, "GET" | "POST"> = { publish: "POST", presence: "GET", disconnect: "POST" };

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store", ...headers },
  });
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

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
    // Pre-flight: same checks, replay and block included, but the jti is not consumed (docs/protocol.md).
    const refused = await stub.preflight(id.jti, id.userId);
    if (refused === "revoked") throw new HttpError(403, "revoked");
    if (refused) throw new TokenError(refused);
    return json(200, { ok: true, userId: id.userId, orgId: id.orgId, role: id.role, expiresAt: id.expiresAt }, cors);
  }
  const res = await stub.fetch(
    admissionRequest({
      userId: id.userId,
      orgId: id.orgId,
      role: id.role,
      jti: id.jti,
      replayUntil: id.expiresAt + cfg.leewaySeconds,
      subprotocol: select,
    }),
  );
  if (res.status === 101) return res;
  // The DO's own refusals (replayed, expired, too_many_connections) go through the one mapping.
  const reason = await readRefusal(res);
  if (reason === undefined) throw new Error(`Durable Object answered the upgrade with ${res.status}`);
  if (reason === "replayed" || reason === "expired") throw new TokenError(reason);
  throw new HttpError(REFUSAL_STATUS[reason], reason);
}

/**
 * The edge checks of every service route (publish, presence, disconnect): the route's method,
 * `Authorization: Bearer` only, a service token whose scope names the route, its org the path's.
 */
async function authorizeService(request: Request, cfg: RouterConfig, pathOrg: string, scope: ServiceScope): Promise<PublishIdentity> {
  const method = SERVICE_METHOD[scope];
  if (request.method !== method) throw new HttpError(405, "method_not_allowed", { Allow: method });
  const auth = request.headers.get("Authorization") ?? "";
  const m = /^Bearer +(\S+)\s*$/i.exec(auth.trim());
  if (auth === "") throw new TokenError("missing_token");
  if (!m) throw new TokenError("malformed");
  const id = await verifyService(m[1], cfg, nowSeconds(), scope);
  if (id.orgId !== pathOrg) throw new HttpError(403, "org_mismatch");
  return id;
}

async function handleService(request: Request, env: Env, cfg: RouterConfig, pathOrg: string, scope: ServiceScope, cors: Record<string, string>): Promise<Response> {
  const id = await authorizeService(request, cfg, pathOrg, scope);
  // Read before the DO is reached: a bad body spends no jti and closes or delivers nothing.
  const text = scope === "presence" ? "" : await readBody(request, MAX_MESSAGE_BYTES);
  const stub = env.WEBSOCKET_SERVER.get(env.WEBSOCKET_SERVER.idFromName(id.orgId));
  // Service tokens are single-use, like handshake tokens: the DO records the jti before acting.
  const until = id.expiresAt + cfg.leewaySeconds;
  if (scope === "publish") {
    const body = parsePublishBody(text);
    const res = await stub.publish(id.jti, until, body.to, body.data);
    if (!res.ok) throw new TokenError(res.reason);
    return json(200, { delivered: res.delivered }, cors);
  }
  if (scope === "presence") {
    const res = await stub.presence(id.jti, until);
    if (!res.ok) throw new TokenError(res.reason);
    return json(200, { users: res.users }, cors);
  }
  const body = parseDisconnectBody(text);
  const res = await stub.disconnectUser(id.jti, until, body.userId, body.code, body.blockSeconds);
  if (!res.ok) throw new TokenError(res.reason);
  logEvent("disconnect", { org: id.orgId, user: body.userId, code: body.code, blockSeconds: body.blockSeconds, disconnected: res.disconnected });
  return json(200, { disconnected: res.disconnected }, cors);
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
      // An allowed Origin is echoed on every answer, as on refusals and by the Go edge.
      return await handleService(request, env, cfg, pathOrg, m[2] as ServiceScope, cors);
    } catch (e) {
      const err = toHttpError(e);
      // Structured, and never the token: the reason and the org of the path are enough to debug.
      if (route === "ws") logEvent("handshake_refused", { org: pathOrg, status: err.status, reason: err.code });
      else if (route !== undefined) logEvent(`${route}_refused`, { org: pathOrg, status: err.status, reason: err.code });
      return json(err.status, { error: err.code }, { ...corsHeaders(cfg, origin), ...err.headers });
    }
  },
} satisfies ExportedHandler<Env>;

