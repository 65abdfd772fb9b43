// WebSocketServer: one Durable Object per organisation, holding every socket of that org.
// Hibernation API throughout: identity lives in each socket's attachment, the user id is the
// socket's tag, and used jtis live in SQLite, so nothing is lost when the object is evicted.
// Protocol: docs/protocol.md.
//
// Cost stays flat in org size: a user's sockets are found with ctx.getWebSockets(userId), a
// broadcast sends to ctx.getWebSockets() without decoding attachments, and the presence roster is
// decoded once per wake-up and then kept up to date. Only the alarm (every PING_PERIOD_MS, and only
// while sockets exist) and the first welcome after a wake-up walk every attachment.
import { DurableObject } from "cloudflare:workers";
import { limitsFromEnv, type Limits } from "./config";
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
export const CLOSE_RATE_LIMITED = 1008;
export const CLOSE_TOO_BIG = 1009;
/** A socket that answered no ping for PING_TIMEOUT_MS is closed with this code (docs/protocol.md). */
export const CLOSE_PING_TIMEOUT = 4000;
/** Clients send the text "ping" this often; the alarm runs this often while sockets exist. */
export const PING_PERIOD_MS = 30_000;
/**
 * Two periods and a margin, as the Go hub's pong wait (2 × 30 s + 10 s): a browser tab hidden for
 * a few minutes has its chained timers aligned to one wake-up a minute, so its pings arrive every
 * 60 s plus jitter, and exactly two periods would take a live tab for dead now and then.
 */
export const PING_TIMEOUT_MS = 2 * PING_PERIOD_MS + 10_000;
/** Expired used_jti rows are collected at most this often. */
export const JTI_GC_INTERVAL_MS = 30_000;

interface Attachment {
  connectionId: string;
  userId: string;
  orgId: string;
  role: string;
  /** Unix ms of the upgrade: the liveness reference until the first ping. */
  connectedAt: number;
  /** Set when the server closed the socket: later frames from it are dropped. */
  closing?: boolean;
  /** Unix ms of that close: a peer that has not finished it after PING_TIMEOUT_MS is dead. */
  closingAt?: number;
  /** Set once the socket's end was handled, so that it never announces a second leave. */
  ended?: boolean;
}

/** Why the jti store refused a token: used before, or already past its replay window. */
export type JtiRefusal = "replayed" | "expired";

export type PublishResult = { ok: true; delivered: number } | { ok: false; reason: JtiRefusal };

/** Rows read and written by the SQL of one connect or publish (billed per row). */
export interface RowCounts {
  read: number;
  written: number;
}

interface Bucket {
  tokens: number;
  last: number;
}

const json = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });

/** UTF-8 length of a string without encoding it (lone surrogates count 3, as TextEncoder's U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Whether a frame exceeds MAX_MESSAGE_BYTES, without copying it when its length decides. */
export function tooBig(message: string | ArrayBuffer): boolean {
  if (typeof message !== "string") return message.byteLength > MAX_MESSAGE_BYTES;
  // A string's length never exceeds its UTF-8 byte count, nor a third of it.
  if (message.length > MAX_MESSAGE_BYTES) return true;
  if (message.length * 3 <= MAX_MESSAGE_BYTES) return false;
  return utf8Length(message) > MAX_MESSAGE_BYTES;
}

/** One structured log line (Workers Logs indexes the fields). Never pass a token here. */
export function logEvent(event: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ event, ...fields }));
}

export class WebSocketServer extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly limits: Limits;
  /** userId → role of each present user; built on first use after a wake-up. */
  private roster: Map<string, string> | undefined;
  /** Per-socket message buckets. Lost on hibernation, which only happens after enough idle time to refill them. */
  private readonly buckets = new WeakMap<WebSocket, Bucket>();
  private readonly attachments = new WeakMap<WebSocket, Attachment>();
  private lastGc = 0;
  private alarmArmed: boolean | undefined;
  /** Rows of the last connect's SQL, for the cost table in docs/performance.md. */
  lastConnectRows: RowCounts = { read: 0, written: 0 };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.limits = limitsFromEnv(env);
    this.sql.exec("CREATE TABLE IF NOT EXISTS used_jti (jti TEXT PRIMARY KEY, until INTEGER NOT NULL)");
    // Garbage collection reads only expired rows.
    this.sql.exec("CREATE INDEX IF NOT EXISTS used_jti_until ON used_jti (until)");
    // A text "ping" is answered without waking a hibernated object; its time is our liveness signal.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/connect") return this.accept(request);
    return json(404, { error: "not_found" });
  }

  /**
   * Records a jti as used until `until` (Unix s), at `now` (Unix s). One statement decides: a jti
   * whose window has passed is refused outright (the token is dead, so the garbage collector may
   * already have dropped its row), and an existing row, expired or not, is a replay.
   */
  useJti(jti: string, until: number, now: number, rows: RowCounts = { read: 0, written: 0 }): JtiRefusal | undefined {
    if (until <= now) return "expired";
    const c = this.sql.exec("INSERT INTO used_jti (jti, until) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING", jti, until);
    c.toArray();
    rows.read += c.rowsRead;
    rows.written += c.rowsWritten;
    if (c.rowsWritten === 0) return "replayed";
    if (now * 1000 - this.lastGc >= JTI_GC_INTERVAL_MS) this.collectJtis(now, rows);
    return undefined;
  }

  /** Drops rows whose window has passed: useJti refuses those tokens before looking. */
  collectJtis(now: number, rows: RowCounts = { read: 0, written: 0 }): void {
    this.lastGc = now * 1000;
    const c = this.sql.exec("DELETE FROM used_jti WHERE until <= ?", now);
    c.toArray();
    rows.read += c.rowsRead;
    rows.written += c.rowsWritten;
  }

  /** Read-only replay check for the pre-flight: true when the jti is in use. */
  async jtiUsed(jti: string): Promise<boolean> {
    const now = Math.floor(Date.now() / 1000);
    return this.sql.exec("SELECT 1 FROM used_jti WHERE jti = ? AND until > ?", jti, now).toArray().length > 0;
  }

  /**
   * A backend publish. Publish tokens are single-use, like handshake tokens (docs/protocol.md).
   * `data` is the JSON text of the value, passed on verbatim.
   */
  async publish(jti: string, until: number, to: string | null, data: string): Promise<PublishResult> {
    const refused = this.useJti(jti, until, Math.floor(Date.now() / 1000));
    if (refused) return { ok: false, reason: refused };
    const text = `{"type":"event","data":${data}}`;
    const delivered = this.sendAll(to === null ? this.ctx.getWebSockets() : this.ctx.getWebSockets(to), text);
    return { ok: true, delivered };
  }

  private async accept(request: Request): Promise<Response> {
    const h = request.headers;
    const att: Attachment = {
      connectionId: crypto.randomUUID(),
      userId: h.get(IDENTITY_HEADERS.userId) ?? "",
      orgId: h.get(IDENTITY_HEADERS.orgId) ?? "",
      role: h.get(IDENTITY_HEADERS.role) ?? "",
      connectedAt: Date.now(),
    };
    const jti = h.get(IDENTITY_HEADERS.jti) ?? "";
    const until = Number(h.get(IDENTITY_HEADERS.replayUntil) ?? "0");
    if (!att.userId || !att.orgId || !jti) return json(400, { error: "bad_request" });
    const rows: RowCounts = { read: 0, written: 0 };
    const refused = this.useJti(jti, until, Math.floor(att.connectedAt / 1000), rows);
    this.lastConnectRows = rows;
    if (refused) return json(401, { error: refused });
    // Counted from the runtime's own list, so the caps survive hibernation. Sockets still closing count.
    if (this.ctx.getWebSockets(att.userId).length >= this.limits.maxConnsPerUser || this.ctx.getWebSockets().length >= this.limits.maxConnsPerOrg) {
      return json(429, { error: "too_many_connections" });
    }

    const roster = this.getRoster();
    const alreadyOnline = roster.has(att.userId);
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [att.userId]);
    server.serializeAttachment(att);
    this.attachments.set(server, att);
    if (!alreadyOnline) roster.set(att.userId, att.role);
    server.send(
      JSON.stringify({
        type: "welcome",
        connectionId: att.connectionId,
        userId: att.userId,
        orgId: att.orgId,
        role: att.role,
        presence: [...roster].map(([userId, role]) => ({ userId, role })),
      }),
    );
    if (!alreadyOnline) {
      const join = JSON.stringify({ type: "presence", event: "join", userId: att.userId, role: att.role });
      this.sendAll(this.ctx.getWebSockets(), join, server);
    }
    await this.armAlarm();
    logEvent("connect", { org: att.orgId, user: att.userId, connection: att.connectionId, rowsRead: rows.read, rowsWritten: rows.written });
    const headers: HeadersInit = h.get(IDENTITY_HEADERS.subprotocol) === SUBPROTOCOL ? { "Sec-WebSocket-Protocol": SUBPROTOCOL } : {};
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Frames still arriving after the server closed the socket (flood, 1009, or closed as dead
    // with its leave announced) are dropped: the runtime keeps delivering them, and readyState
    // stays OPEN until the close completes.
    const att = this.attachment(ws);
    if (att.closing || att.ended) return;
    if (tooBig(message)) {
      this.closeSocket(ws, CLOSE_TOO_BIG, "message too big");
      return;
    }
    if (!this.allow(ws)) {
      this.closeSocket(ws, CLOSE_RATE_LIMITED, "rate limit exceeded");
      return;
    }
    let msg: { type?: unknown; to?: unknown; data?: unknown };
    try {
      if (typeof message !== "string") throw new Error("binary");
      msg = JSON.parse(message);
      if (typeof msg !== "object" || msg === null || Array.isArray(msg)) throw new Error("not an object");
    } catch {
      ws.send(JSON.stringify({ type: "error", code: "bad_message" }));
      return;
    }
    const me = this.attachment(ws);
    if (msg.type === "broadcast") {
      this.sendAll(this.ctx.getWebSockets(), JSON.stringify({ type: "message", from: me.userId, data: msg.data ?? null }), ws);
    } else if (msg.type === "direct" && typeof msg.to === "string" && msg.to !== "") {
      this.sendAll(this.ctx.getWebSockets(msg.to), JSON.stringify({ type: "message", from: me.userId, data: msg.data ?? null, direct: true }));
    } else {
      ws.send(JSON.stringify({ type: "error", code: "bad_message" }));
    }
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await this.ended(ws, code);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    await this.ended(ws, 1006);
  }

  /** Closes sockets with no ping for PING_TIMEOUT_MS, collects used jtis, re-arms while sockets remain. */
  async alarm(): Promise<void> {
    const now = Date.now();
    await this.sweep(now);
    this.collectJtis(Math.floor(now / 1000));
    // The alarm that is running is spent: schedule the next one directly.
    this.alarmArmed = false;
    if (this.ctx.getWebSockets().some((w) => !this.attachment(w).ended)) {
      await this.ctx.storage.setAlarm(now + PING_PERIOD_MS);
      this.alarmArmed = true;
    }
  }

  /** The dead-connection check of the alarm, at `now` (Unix ms). */
  async sweep(now: number): Promise<number> {
    let closed = 0;
    for (const ws of this.ctx.getWebSockets()) {
      const att = this.attachment(ws);
      if (att.ended) continue;
      // A socket the server is closing counts from its close, pings or not: the runtime still
      // records a peer's "ping" after the close, so a peer that never answers the close but keeps
      // pinging would otherwise stay present for ever.
      const pinged = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
      const since = att.closing ? (att.closingAt ?? 0) : Math.max(att.connectedAt ?? 0, pinged);
      if (now - since < PING_TIMEOUT_MS) continue;
      try {
        ws.close(CLOSE_PING_TIMEOUT, "ping timeout");
      } catch {
        // already closing
      }
      // The peer is gone and will not complete the close: its end is now.
      await this.ended(ws, CLOSE_PING_TIMEOUT);
      closed++;
    }
    return closed;
  }

  /** A close the server starts; the socket stays present until the close completes (webSocketClose). */
  private closeSocket(ws: WebSocket, code: number, reason: string): void {
    const att = this.attachment(ws);
    att.closing = true;
    att.closingAt = Date.now();
    ws.serializeAttachment(att);
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  /** Handles the end of a socket once: leave when it was the user's last present socket. */
  private async ended(ws: WebSocket, code: number): Promise<void> {
    const me = this.attachment(ws);
    if (!me.userId || me.ended) return;
    me.ended = true;
    try {
      ws.serializeAttachment(me);
    } catch {
      // closed sockets may refuse a new attachment; the in-memory copy still says ended
    }
    const rest = this.ctx.getWebSockets(me.userId).filter((w) => w !== ws && !this.attachment(w).ended);
    if (rest.length === 0) {
      this.roster?.delete(me.userId);
      this.sendAll(this.ctx.getWebSockets(), JSON.stringify({ type: "presence", event: "leave", userId: me.userId, role: me.role }), ws);
    }
    logEvent("close", { org: me.orgId, user: me.userId, connection: me.connectionId, code });
    if (!this.ctx.getWebSockets().some((w) => w !== ws && !this.attachment(w).ended)) {
      await this.ctx.storage.deleteAlarm();
      this.alarmArmed = false;
    }
  }

  private async armAlarm(): Promise<void> {
    if (this.alarmArmed) return;
    if (!this.ctx.getWebSockets().some((w) => !this.attachment(w).ended)) return;
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + PING_PERIOD_MS);
    this.alarmArmed = true;
  }

  /** Token bucket: MESSAGE_BURST at once, MESSAGES_PER_SECOND steady. */
  private allow(ws: WebSocket): boolean {
    const now = Date.now();
    const { messagesPerSecond: rate, messageBurst: burst } = this.limits;
    const b = this.buckets.get(ws) ?? { tokens: burst, last: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.last) * rate) / 1000);
    b.last = now;
    this.buckets.set(ws, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private attachment(ws: WebSocket): Attachment {
    let att = this.attachments.get(ws);
    if (!att) {
      att = (ws.deserializeAttachment() as Attachment | null) ?? { connectionId: "", userId: "", orgId: "", role: "", connectedAt: 0 };
      this.attachments.set(ws, att);
    }
    return att;
  }

  /** Present users and their roles, decoded once per wake-up. */
  private getRoster(): Map<string, string> {
    if (!this.roster) {
      this.roster = new Map();
      for (const ws of this.ctx.getWebSockets()) {
        const att = this.attachment(ws);
        if (att.userId && !att.ended && !this.roster.has(att.userId)) this.roster.set(att.userId, att.role);
      }
    }
    return this.roster;
  }

  /** Sends text to each socket but `except`; returns how many sends succeeded. */
  private sendAll(targets: WebSocket[], text: string, except?: WebSocket): number {
    let n = 0;
    for (const ws of targets) {
      if (ws === except) continue;
      try {
        ws.send(text);
        n++;
      } catch {
        // closing socket: its close handler announces the leave
      }
    }
    return n;
  }
}
