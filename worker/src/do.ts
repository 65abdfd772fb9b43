// WebSocketServer: one Durable Object per organisation, holding every socket of that org.
// Hibernation API throughout: identity lives in each socket's attachment, the user id is the
// socket's tag, and used jtis live in SQLite, so nothing is lost when the object is evicted.
// Protocol: docs/protocol.md.
//
// The edge (index.ts) calls it over RPC for publish(), presence(), disconnectUser() and the
// pre-flight's preflight(); fetch() is only the WebSocket upgrade (admission.ts says why).
// Everything about the org's sockets lives here: accept, presence, messages, limits, liveness,
// session age, blocks (blocks.ts), and finding a user's sockets (ctx.getWebSockets(userId)).
//
// Cost stays flat in org size: a user's sockets are found with ctx.getWebSockets(userId), a
// broadcast sends to ctx.getWebSockets() without decoding attachments, and the presence roster
// (with the welcome's JSON of it) and the org's socket count are built once per wake-up and then
// kept up to date. Only the alarm (every PING_PERIOD_MS, and only while sockets exist) and the
// first welcome after a wake-up walk every attachment. A new user's join, which goes to every
// socket, is sent just after the 101 rather than before it (announceJoin).
import { DurableObject } from "cloudflare:workers";
import { readAdmission, refusalResponse, type Admission, type ConnectRefusal } from "./admission";
import { BlockStore } from "./blocks";
import { limitsFromEnv, type Limits } from "./config";
import { CLOSE_REAUTH_REQUIRED, DISCONNECT_REASON, type DisconnectCode } from "./disconnect";
import { SUBPROTOCOL } from "./extract";
import { tooBig } from "./frames";
import { JtiStore, type JtiRefusal, type RowCounts } from "./jti";
import { logEvent } from "./log";

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
/** Within this many sockets of MAX_CONNS_PER_ORG, a connect counts the runtime's list (orgFull). */
const RECOUNT_MARGIN = 64;

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
  /** Unix ms at which the socket's session ends (MAX_SESSION_SECONDS with jitter); absent when off. */
  deadline?: number;
}

/**
 * The answer of publish(). A refusal is a value, not a thrown error: an error thrown across RPC
 * loses its class, and the edge maps reasons to statuses in one place (errors.ts).
 */
export type PublishResult = { ok: true; delivered: number } | { ok: false; reason: JtiRefusal };

/** One present user as GET /orgs/{org}/presence shows it. */
export interface PresenceUser {
  userId: string;
  role: string;
  connections: number;
}

/** The answers of presence() and disconnectUser(): refusals are values, as for publish(). */
export type PresenceResult = { ok: true; users: PresenceUser[] } | { ok: false; reason: JtiRefusal };
export type DisconnectResult = { ok: true; disconnected: number } | { ok: false; reason: JtiRefusal };

/** Why preflight() would refuse a handshake: the jti is spent, or the user is blocked. */
export type PreflightRefusal = "replayed" | "revoked";

/** The answer of accept(): the 101 with the client end, or why not. */
export type ConnectResult = { ok: true; response: Response } | { ok: false; reason: ConnectRefusal };

const json = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });

const presenceEntry = (userId: string, role: string): string => JSON.stringify({ userId, role });

interface Bucket {
  tokens: number;
  last: number;
}

export class WebSocketServer extends DurableObject<Env> {
  /** Used jtis of this org (jti.ts); public for the store tests. */
  readonly jtis: JtiStore;
  /** Users blocked by a disconnect call (blocks.ts); public for the tests. */
  readonly blocks: BlockStore;
  /** From the environment; public so that a test can shorten maxSessionSeconds of one instance. */
  limits: Limits;
  /** userId → role of each present user; built on first use after a wake-up. */
  private roster: Map<string, string> | undefined;
  /** The roster's user ids in byte order (the welcome's order); undefined: sort the roster again. */
  private sortedUsers: string[] | undefined;
  /** The roster as the welcome's presence entries, comma-separated JSON; undefined: rebuild it. */
  private presenceJson: string | undefined;
  /** Sockets the runtime lists for this object, counted once per wake-up, then kept (orgFull). */
  private socketCount: number | undefined;
  /** Sockets whose terminal event was counted off socketCount. */
  private readonly uncounted = new WeakSet<WebSocket>();
  /** RECOUNT_MARGIN; a field so that a test can trust the count right up to the cap. */
  private recountMargin = RECOUNT_MARGIN;
  /** Per-socket message buckets. Lost on hibernation, which only happens after enough idle time to refill them. */
  private readonly buckets = new WeakMap<WebSocket, Bucket>();
  private readonly attachments = new WeakMap<WebSocket, Attachment>();
  private alarmArmed: boolean | undefined;
  /** Unix ms of the armed alarm, when this instance set or read it. */
  private alarmAt: number | undefined;
  /** A new user's `join`, accepted but not yet sent to the others (announceJoin says why). */
  private pendingJoin: { text: string; except: WebSocket } | undefined;
  /** Rows of the last connect's SQL, for the cost table in docs/performance.md. */
  lastConnectRows: RowCounts = { read: 0, written: 0 };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.jtis = new JtiStore(ctx.storage.sql);
    this.blocks = new BlockStore(ctx.storage.sql);
    this.limits = limitsFromEnv(env);
    // A text "ping" is answered without waking a hibernated object; its time is our liveness signal.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  /**
   * The WebSocket upgrade, and nothing else: a WebSocket cannot cross RPC, so the connect is the
   * one call that stays a fetch. The identity is the typed Admission the edge wrote (admission.ts).
   */
  async fetch(request: Request): Promise<Response> {
    this.flushJoin();
    const who = readAdmission(request);
    if (!who || request.headers.get("Upgrade") !== "websocket") return json(400, { error: "bad_request" });
    const res = await this.accept(who);
    return res.ok ? res.response : refusalResponse(res.reason);
  }

  /**
   * The pre-flight's read-only checks; spends nothing. The block comes first, unlike in the
   * handshake: a browser asks the pre-flight with the token its refused upgrade already spent, so
   * with the handshake's order a blocked user would only ever learn "replayed".
   */
  async preflight(jti: string, userId: string): Promise<PreflightRefusal | null> {
    this.flushJoin();
    const now = Date.now();
    if (this.blocks.blocked(userId, now)) return "revoked";
    return this.jtis.used(jti, Math.floor(now / 1000)) ? "replayed" : null;
  }

  /**
   * GET /orgs/{org}/presence: who is online, as a new socket's welcome shows it, with each user's
   * count of present sockets. The service token is single-use, as for publish.
   */
  async presence(jti: string, until: number): Promise<PresenceResult> {
    this.flushJoin();
    const refused = this.jtis.use(jti, until, Math.floor(Date.now() / 1000));
    if (refused) return { ok: false, reason: refused };
    const roster = this.getRoster();
    const users = this.users().map((userId) => ({
      userId,
      role: roster.get(userId)!,
      connections: this.ctx.getWebSockets(userId).filter((w) => !this.attachment(w).ended).length,
    }));
    return { ok: true, users };
  }

  /**
   * POST /orgs/{org}/disconnect: (1) with blockSeconds > 0, block the user's new handshakes in
   * this org until now + blockSeconds, never shortening a block; (2) close each of the user's
   * sockets here with `code`, which leaves presence at once (as a dead socket does: the user is
   * gone for the org now, whether or not the peer finishes the close); (3) count them.
   */
  async disconnectUser(jti: string, until: number, userId: string, code: DisconnectCode, blockSeconds: number): Promise<DisconnectResult> {
    this.flushJoin();
    const now = Date.now();
    const refused = this.jtis.use(jti, until, Math.floor(now / 1000));
    if (refused) return { ok: false, reason: refused };
    if (blockSeconds > 0) this.blocks.block(userId, now + blockSeconds * 1000, now);
    let disconnected = 0;
    for (const ws of this.ctx.getWebSockets(userId)) {
      const att = this.attachment(ws);
      if (att.ended) continue;
      // A socket the server was already closing (1008, 1009) leaves too, but is not counted:
      // n is the sockets this call closed, as in the Go hub.
      if (!att.closing) disconnected++;
      await this.closeNow(ws, code, DISCONNECT_REASON[code]);
    }
    return { ok: true, disconnected };
  }

  /**
   * A backend publish. Publish tokens are single-use, like handshake tokens (docs/protocol.md).
   * `data` is the JSON text of the value, passed on verbatim.
   */
  async publish(jti: string, until: number, to: string | null, data: string): Promise<PublishResult> {
    this.flushJoin();
    const refused = this.jtis.use(jti, until, Math.floor(Date.now() / 1000));
    if (refused) return { ok: false, reason: refused };
    const text = `{"type":"event","data":${data}}`;
    const delivered = this.sendAll(to === null ? this.ctx.getWebSockets() : this.ctx.getWebSockets(to), text);
    return { ok: true, delivered };
  }

  /**
   * Accepts a verified client's socket: records its jti, checks the caps, then joins the org.
   * Private: an RPC caller could not receive the 101 Response's WebSocket (see fetch).
   */
  private async accept(who: Admission): Promise<ConnectResult> {
    const att: Attachment = { connectionId: crypto.randomUUID(), userId: who.userId, orgId: who.orgId, role: who.role, connectedAt: Date.now() };
    const rows: RowCounts = { read: 0, written: 0 };
    const refused = this.jtis.use(who.jti, who.replayUntil, Math.floor(att.connectedAt / 1000), rows);
    this.lastConnectRows = rows;
    if (refused) return { ok: false, reason: refused };
    // After the jti is spent, so that a replay of the same token stays "replayed".
    if (this.blocks.blocked(att.userId, att.connectedAt)) return { ok: false, reason: "revoked" };
    // From the runtime's own list (the org's through a count kept from it: orgFull), so the caps
    // survive hibernation. Sockets still closing count.
    if (this.ctx.getWebSockets(att.userId).length >= this.limits.maxConnsPerUser || this.orgFull()) {
      return { ok: false, reason: "too_many_connections" };
    }

    const roster = this.getRoster();
    const alreadyOnline = roster.has(att.userId);
    att.deadline = this.sessionDeadline(att.connectedAt);
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [att.userId]);
    this.socketCount!++;
    server.serializeAttachment(att);
    this.attachments.set(server, att);
    if (!alreadyOnline) this.addPresence(att.userId, att.role);
    const head = JSON.stringify({ type: "welcome", connectionId: att.connectionId, userId: att.userId, orgId: att.orgId, role: att.role });
    server.send(`${head.slice(0, -1)},"presence":[${this.presenceEntries()}]}`);
    if (!alreadyOnline) this.announceJoin(server, JSON.stringify({ type: "presence", event: "join", userId: att.userId, role: att.role }));
    await this.armAlarm(att.deadline);
    logEvent("connect", { org: att.orgId, user: att.userId, connection: att.connectionId, rowsRead: rows.read, rowsWritten: rows.written });
    const headers: HeadersInit = who.subprotocol === SUBPROTOCOL ? { "Sec-WebSocket-Protocol": SUBPROTOCOL } : {};
    return { ok: true, response: new Response(null, { status: 101, webSocket: client, headers }) };
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.flushJoin();
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
    this.flushJoin();
    this.uncount(ws);
    await this.ended(ws, code);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    this.flushJoin();
    this.uncount(ws);
    await this.ended(ws, 1006);
  }

  /** Closes sockets with no ping for PING_TIMEOUT_MS, collects used jtis, re-arms while sockets remain. */
  async alarm(): Promise<void> {
    this.flushJoin();
    const now = Date.now();
    const nextDeadline = await this.expireSessions(now);
    await this.sweep(now);
    this.jtis.collect(Math.floor(now / 1000));
    this.blocks.collect(now);
    // The alarm that is running is spent: schedule the next one directly.
    this.alarmArmed = false;
    this.alarmAt = undefined;
    if (this.ctx.getWebSockets().some((w) => !this.attachment(w).ended)) {
      const at = Math.min(now + PING_PERIOD_MS, nextDeadline);
      await this.ctx.storage.setAlarm(at);
      this.alarmArmed = true;
      this.alarmAt = at;
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

  /**
   * Closes, with 4001 reauth_required, every socket whose session deadline has passed at `now`
   * (Unix ms); returns the earliest deadline still ahead (Infinity when none), for the next alarm.
   */
  async expireSessions(now: number): Promise<number> {
    let next = Infinity;
    for (const ws of this.ctx.getWebSockets()) {
      const att = this.attachment(ws);
      if (att.ended || att.closing || att.deadline === undefined) continue;
      if (att.deadline > now) {
        next = Math.min(next, att.deadline);
        continue;
      }
      await this.closeNow(ws, CLOSE_REAUTH_REQUIRED, DISCONNECT_REASON[CLOSE_REAUTH_REQUIRED]);
    }
    return next;
  }

  /** The session deadline of a socket accepted at `acceptedAt`: MAX_SESSION_SECONDS × uniform(0.9, 1.1), or none. */
  private sessionDeadline(acceptedAt: number): number | undefined {
    const max = this.limits.maxSessionSeconds;
    if (max <= 0) return undefined;
    // Jitter, so that sockets opened together (after a deploy, say) do not all reconnect together.
    return acceptedAt + Math.round(max * 1000 * (0.9 + 0.2 * Math.random()));
  }

  /**
   * A close the server decides for the org's sake (disconnect, session age): the socket leaves
   * presence now, its later frames are dropped, and its peer's close reply changes nothing.
   */
  private async closeNow(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
    await this.ended(ws, code);
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
      this.dropPresence(me.userId);
      this.sendAll(this.ctx.getWebSockets(), JSON.stringify({ type: "presence", event: "leave", userId: me.userId, role: me.role }), ws);
    } else {
      // The welcome lists a user with the role of their earliest present connection, as the Go
      // hub does and as the roster rebuilt after a wake-up does: not the role of one that closed.
      this.setPresenceRole(me.userId, this.earliest(rest).role);
    }
    logEvent("close", { org: me.orgId, user: me.userId, connection: me.connectionId, code });
    if (!this.ctx.getWebSockets().some((w) => w !== ws && !this.attachment(w).ended)) {
      await this.ctx.storage.deleteAlarm();
      this.alarmArmed = false;
      this.alarmAt = undefined;
    }
  }

  /** Arms the alarm within PING_PERIOD_MS, and no later than `deadline` (a new socket's session end). */
  private async armAlarm(deadline?: number): Promise<void> {
    if (this.alarmArmed && (deadline === undefined || (this.alarmAt !== undefined && this.alarmAt <= deadline))) return;
    if (!this.ctx.getWebSockets().some((w) => !this.attachment(w).ended)) return;
    const current = await this.ctx.storage.getAlarm();
    const at = Math.min(current ?? Date.now() + PING_PERIOD_MS, deadline ?? Infinity);
    if (at !== current) await this.ctx.storage.setAlarm(at);
    this.alarmArmed = true;
    this.alarmAt = at;
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

  /**
   * MAX_CONNS_PER_ORG without listing every socket on each connect. socketCount is the runtime's
   * list at the first connect after a wake-up, plus each accept, minus each socket's one terminal
   * event (webSocketClose or webSocketError), after which the runtime drops the socket. It can be
   * below the list only while a terminal handler still runs, so near the cap the list is counted
   * again: the cap is exact, and a socket still closing counts, as before.
   */
  private orgFull(): boolean {
    const cap = this.limits.maxConnsPerOrg;
    if (this.socketCount === undefined || this.socketCount >= cap - this.recountMargin) this.socketCount = this.ctx.getWebSockets().length;
    return this.socketCount >= cap;
  }

  private uncount(ws: WebSocket): void {
    if (this.socketCount === undefined || this.uncounted.has(ws)) return;
    this.uncounted.add(ws);
    this.socketCount--;
  }

  /**
   * The welcome's presence entries, comma-separated, sorted by user id (byte order, as the Go
   * hub's welcome and GET /orgs/{org}/presence). Built from the roster once per wake-up, then
   * edited as users come and go: an insert before the next user's entry on a join, a cut on a
   * leave. Rebuilding it is O(users) JSON encoding (about 3 ms at 10,000 users), which would land
   * on the next connect; the edits are O(bytes) string work, and a leave is O(sockets) anyway.
   */
  private presenceEntries(): string {
    const roster = this.getRoster();
    this.presenceJson ??= this.users().map((userId) => presenceEntry(userId, roster.get(userId)!)).join(",");
    return this.presenceJson;
  }

  /** The roster's user ids in byte order (ids are ASCII, so string order is byte order). */
  private users(): string[] {
    this.sortedUsers ??= [...this.getRoster().keys()].sort();
    return this.sortedUsers;
  }

  /** Where `userId` stands, or would stand, in the sorted `users` (binary search). */
  private static rank(users: string[], userId: string): number {
    let lo = 0;
    let hi = users.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (users[mid] < userId) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private addPresence(userId: string, role: string): void {
    const roster = this.getRoster();
    roster.set(userId, role);
    const users = this.sortedUsers;
    if (users === undefined) {
      this.presenceJson = undefined;
      return;
    }
    const at = WebSocketServer.rank(users, userId);
    users.splice(at, 0, userId);
    const json = this.presenceJson;
    if (json === undefined) return;
    const entry = presenceEntry(userId, role);
    if (at === users.length - 1) {
      this.presenceJson = json === "" ? entry : `${json},${entry}`;
      return;
    }
    // Before the next user's entry, found as dropPresence finds an entry.
    const next = users[at + 1];
    const i = json.indexOf(presenceEntry(next, roster.get(next)!));
    this.presenceJson = i < 0 ? undefined : `${json.slice(0, i)}${entry},${json.slice(i)}`;
  }

  private dropPresence(userId: string): void {
    const role = this.roster?.get(userId);
    if (role === undefined) return;
    this.roster!.delete(userId);
    const users = this.sortedUsers;
    if (users !== undefined) {
      const at = WebSocketServer.rank(users, userId);
      if (users[at] === userId) users.splice(at, 1);
      else this.sortedUsers = undefined;
    }
    const json = this.presenceJson;
    if (json === undefined) return;
    // An entry's text occurs only where it stands: inside a JSON string a quote is escaped.
    const entry = presenceEntry(userId, role);
    const i = json.indexOf(entry);
    if (i < 0) this.presenceJson = undefined;
    else if (i === 0) this.presenceJson = json.slice(entry.length + 1);
    else this.presenceJson = json.slice(0, i - 1) + json.slice(i + entry.length);
  }

  /** Gives a present user another role in the roster and, in place, in the welcome's JSON. */
  private setPresenceRole(userId: string, role: string): void {
    const was = this.roster?.get(userId);
    if (was === undefined || was === role) return;
    this.roster!.set(userId, role);
    const json = this.presenceJson;
    if (json === undefined) return;
    const entry = presenceEntry(userId, was);
    const i = json.indexOf(entry); // unique: see dropPresence
    this.presenceJson = i < 0 ? undefined : json.slice(0, i) + presenceEntry(userId, role) + json.slice(i + entry.length);
  }

  /** The attachment of the earliest connection among `sockets` (not empty). */
  private earliest(sockets: WebSocket[]): Attachment {
    return sockets.map((w) => this.attachment(w)).reduce((a, b) => (b.connectedAt < a.connectedAt ? b : a));
  }

  /**
   * Present users and their roles, decoded once per wake-up. The runtime lists sockets in no
   * particular order, so each user takes the role of their earliest present connection (the Go
   * hub's online[user][0]); the welcome sorts users by id (users()).
   */
  private getRoster(): Map<string, string> {
    if (!this.roster) {
      this.presenceJson = undefined;
      this.sortedUsers = undefined;
      const first = new Map<string, Attachment>();
      for (const ws of this.ctx.getWebSockets()) {
        const att = this.attachment(ws);
        if (!att.userId || att.ended) continue;
        const had = first.get(att.userId);
        if (!had || att.connectedAt < had.connectedAt) first.set(att.userId, att);
      }
      const users = [...first.values()].sort((a, b) => a.connectedAt - b.connectedAt);
      this.roster = new Map(users.map((a) => [a.userId, a.role]));
    }
    return this.roster;
  }


  /**
   * A new user's join goes to every other socket: O(sockets), the one part of a connect that grows
   * with the org. Sent in the same turn it would keep the 101, and so the welcome, waiting for the
   * whole fan-out. It goes out on the next timer turn instead, after the 101 has left, or earlier:
   * every entry point of the object (fetch, the RPC methods, the webSocket* handlers, alarm) and
   * every send to the org (sendAll) send it first. So whatever any event of the object does after
   * a connect comes after that connect's join, as when the join was sent before the 101: no member
   * sees a frame from or about the user, or an answer to a later request, before the join, and a
   * later welcome, which already lists the user, is never followed by its join. A new entry point
   * must call flushJoin() first too. Nothing is lost to hibernation: a pending timer keeps the
   * object awake.
   */
  private announceJoin(joined: WebSocket, text: string): void {
    this.flushJoin();
    this.pendingJoin = { text, except: joined };
    setTimeout(() => this.flushJoin(), 0);
  }

  private flushJoin(): void {
    const p = this.pendingJoin;
    if (!p) return;
    this.pendingJoin = undefined;
    this.sendAll(this.ctx.getWebSockets(), p.text, p.except);
  }

  /** Sends text to each socket but `except`, a pending join first; returns how many sends succeeded. */
  private sendAll(targets: WebSocket[], text: string, except?: WebSocket): number {
    this.flushJoin();
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
