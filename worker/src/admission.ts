// The connect hand-off from the edge (index.ts) to the org's Durable Object (do.ts). Publish and
// the jti check are RPC methods on the DO; the connect is the one call that stays a fetch, because
// a WebSocket cannot cross RPC (workerd: DataCloneError, "WebSocket ... does not support
// serialization"), and the 101 Response must carry the client end. So the verified identity
// travels as one typed value, written and read only here: one header the Worker sets on a request
// it builds itself, so nothing a client sends reaches the DO as identity.
import type { JtiRefusal } from "./jti";

/** Who is connecting, as the edge verified it. */
export interface Admission {
  userId: string;
  orgId: string;
  role: string;
  jti: string;
  /** Unix s until which the jti stays recorded: the token's exp plus the leeway. */
  replayUntil: number;
  /** The subprotocol the 101 selects: "office-router.v1" or "" (docs/protocol.md). */
  subprotocol: string;
}

/**
 * Why the DO refused a connect: a jti refusal (401), a cap (429 too_many_connections), or a
 * block set by POST /orgs/{org}/disconnect (403 revoked).
 */
export type ConnectRefusal = JtiRefusal | "too_many_connections" | "revoked";

/** The status of each refusal, on the DO's answer and at the edge alike (docs/reason-codes.md). */
export const REFUSAL_STATUS: Record<ConnectRefusal, number> = { replayed: 401, expired: 401, too_many_connections: 429, revoked: 403 };

const HEADER = "X-Office-Admission";
const KEYS: Record<keyof Admission, "string" | "number"> = {
  userId: "string",
  orgId: "string",
  role: "string",
  jti: "string",
  replayUntil: "number",
  subprotocol: "string",
};

/** The upgrade request the edge sends to the DO's fetch for `who`. */
export function admissionRequest(who: Admission): Request {
  return new Request("https://do/connect", { headers: { Upgrade: "websocket", [HEADER]: JSON.stringify(who) } });
}

/** The admission of a request built by admissionRequest, or undefined (exact keys and types). */
export function readAdmission(request: Request): Admission | undefined {
  let v: unknown;
  try {
    v = JSON.parse(request.headers.get(HEADER) ?? "");
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== Object.keys(KEYS).length) return undefined;
  for (const k of keys) {
    const want = KEYS[k as keyof Admission];
    if (want === undefined || typeof o[k] !== want) return undefined;
  }
  const who = o as unknown as Admission;
  if (!who.userId || !who.orgId || !who.jti || !Number.isFinite(who.replayUntil)) return undefined;
  return who;
}

/** The DO's answer to a refused connect. */
export function refusalResponse(reason: ConnectRefusal): Response {
  return new Response(JSON.stringify({ error: reason }), {
    status: REFUSAL_STATUS[reason],
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
  });
}

/** The refusal in a DO answer that is not a 101, or undefined when it is none of ours. */
export async function readRefusal(res: Response): Promise<ConnectRefusal | undefined> {
  const body = (await res.json().catch(() => ({}))) as { error?: unknown };
  const reason = body.error as ConnectRefusal;
  return Object.hasOwn(REFUSAL_STATUS, reason) && REFUSAL_STATUS[reason] === res.status ? reason : undefined;
}
