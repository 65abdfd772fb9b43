// WebSocketServer: one Durable Object per organisation, holding every socket of that org.
// Hibernation API throughout: identity lives in each socket's attachment and used jtis in
// SQLite, so nothing is lost when the object is evicted. Protocol: docs/protocol.md.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env";
import { SUBPROTOCOL } from "./extract";

/** Identity headers set by the Worker after stripping any client-supplied ones. */
export const IDENTITY_HEADERS = {
  userId: "X-Office-User-Id",
  orgId: "X-Office-Org-Id",
  role: "X-Office-Role",
  jti: "X-Office-Jti",
  replayUntil: "X-Office-Replay-Until",
  subprotocol: "X-Office-Subprotocol",
} as const;

export const MAX_MESSAGE_BYTES = 64 * 1024;
export const CLOSE_TOO_BIG = 1009;

interface Attachment {
  connectionId: string;
  userId: string;
  orgId: string;
  role: string;
}

const json = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });

export class WebSocketServer extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS used_jti (jti TEXT PRIMARY KEY, until INTEGER NOT NULL)");
    // A text "ping" is answered without waking a hibernated object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/connect") return this.accept(request);
    if (url.pathname === "/publish") return this.publish(request);
    if (url.pathname === "/jti-used") return this.jtiUsed(request);
    return json(404, { error: "not_found" });
  }

  /** Records a jti as used until `until`; false when it was already used (replay). */
  private useJti(jti: string, until: number): boolean {
    const now = Math.floor(Date.now() / 1000);
    this.sql.exec("DELETE FROM used_jti WHERE until <= ?", now);
    const seen = this.sql.exec("SELECT 1 FROM used_jti WHERE jti = ?", jti).toArray();
    if (seen.length > 0) return false;
    this.sql.exec("INSERT INTO used_jti (jti, until) VALUES (?, ?)", jti, until);
    return true;
  }

  /** Read-only replay check for the pre-flight: 409 when the jti is in use, else 200. */
  private jtiUsed(request: Request): Response {
    const jti = request.headers.get(IDENTITY_HEADERS.jti) ?? "";
    const now = Math.floor(Date.now() / 1000);
    const seen = this.sql.exec("SELECT 1 FROM used_jti WHERE jti = ? AND until > ?", jti, now).toArray();
    return json(seen.length > 0 ? 409 : 200, {});
  }

  private accept(request: Request): Response {
    const h = request.headers;
    const att: Attachment = {
      connectionId: crypto.randomUUID(),
      userId: h.get(IDENTITY_HEADERS.userId) ?? "",
      orgId: h.get(IDENTITY_HEADERS.orgId) ?? "",
      role: h.get(IDENTITY_HEADERS.role) ?? "",
    };
    const jti = h.get(IDENTITY_HEADERS.jti) ?? "";
    const until = Number(h.get(IDENTITY_HEADERS.replayUntil) ?? "0");
    if (!att.userId || !att.orgId || !jti) return json(400, { error: "bad_request" });
    if (!this.useJti(jti, until)) return json(401, { error: "replayed" });

    const alreadyOnline = this.sockets().some((s) => s.att.userId === att.userId);
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [att.userId]);
    server.serializeAttachment(att);
    server.send(
      JSON.stringify({
        type: "welcome",
        connectionId: att.connectionId,
        userId: att.userId,
        orgId: att.orgId,
        role: att.role,
        presence: this.presence(),
      }),
    );
    if (!alreadyOnline) {
      this.send(this.sockets().filter((s) => s.ws !== server), { type: "presence", event: "join", userId: att.userId, role: att.role });
    }
    const headers: HeadersInit = h.get(IDENTITY_HEADERS.subprotocol) === SUBPROTOCOL ? { "Sec-WebSocket-Protocol": SUBPROTOCOL } : {};
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  private async publish(request: Request): Promise<Response> {
    const body = (await request.json()) as { to?: string; data: unknown };
    const targets = body.to ? this.sockets().filter((s) => s.att.userId === body.to) : this.sockets();
    const delivered = this.send(targets, { type: "event", data: body.data });
    return json(200, { delivered });
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const size = typeof message === "string" ? new TextEncoder().encode(message).length : message.byteLength;
    if (size > MAX_MESSAGE_BYTES) {
      ws.close(CLOSE_TOO_BIG, "message too big");
      return;
    }
    const me = ws.deserializeAttachment() as Attachment;
    let msg: { type?: unknown; to?: unknown; data?: unknown };
    try {
      if (typeof message !== "string") throw new Error("binary");
      msg = JSON.parse(message);
      if (typeof msg !== "object" || msg === null || Array.isArray(msg)) throw new Error("not an object");
    } catch {
      ws.send(JSON.stringify({ type: "error", code: "bad_message" }));
      return;
    }
    if (msg.type === "broadcast") {
      this.send(this.sockets().filter((s) => s.ws !== ws), { type: "message", from: me.userId, data: msg.data ?? null });
    } else if (msg.type === "direct" && typeof msg.to === "string" && msg.to !== "") {
      this.send(this.sockets().filter((s) => s.att.userId === msg.to), { type: "message", from: me.userId, data: msg.data ?? null, direct: true });
    } else {
      ws.send(JSON.stringify({ type: "error", code: "bad_message" }));
    }
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.leave(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    this.leave(ws);
  }

  private leave(ws: WebSocket): void {
    const me = ws.deserializeAttachment() as Attachment | null;
    if (!me) return;
    const rest = this.sockets().filter((s) => s.ws !== ws);
    if (!rest.some((s) => s.att.userId === me.userId)) {
      this.send(rest, { type: "presence", event: "leave", userId: me.userId, role: me.role });
    }
  }

  private sockets(): { ws: WebSocket; att: Attachment }[] {
    return this.ctx
      .getWebSockets()
      .filter((ws) => ws.readyState === WebSocket.OPEN)
      .map((ws) => ({ ws, att: ws.deserializeAttachment() as Attachment }));
  }

  private presence(): { userId: string; role: string }[] {
    const seen = new Map<string, string>();
    for (const s of this.sockets()) if (!seen.has(s.att.userId)) seen.set(s.att.userId, s.att.role);
    return [...seen].map(([userId, role]) => ({ userId, role }));
  }

  /** Sends msg to each target; returns how many sends succeeded. */
  private send(targets: { ws: WebSocket }[], msg: unknown): number {
    const text = JSON.stringify(msg);
    let n = 0;
    for (const t of targets) {
      try {
        t.ws.send(text);
        n++;
      } catch {
        // closing socket: its close handler announces the leave
      }
    }
    return n;
  }
}
