// office-router browser client: one dependency-free ES module.
// Protocol, reason codes and close codes: docs/protocol.md and docs/reason-codes.md.

export const SUBPROTOCOL = "office-router.v1";

/** What the app's backend returns from POST /api/v1/cloudflare/request-access. */
export interface Access {
  token: string;
  url: string;
  /** Unix seconds. */
  expiresAt: number;
}

export interface PresenceEntry {
  userId: string;
  role: string;
}

export interface Welcome {
  type: "welcome";
  connectionId: string;
  userId: string;
  orgId: string;
  role: string;
  presence: PresenceEntry[];
}

export interface PresenceEvent {
  type: "presence";
  event: "join" | "leave";
  userId: string;
  role: string;
}

export interface ChatMessage {
  type: "message";
  from: string;
  data: unknown;
  direct?: boolean;
}

export interface BackendEvent {
  type: "event";
  data: unknown;
}

export interface ProtocolError {
  type: "error";
  code: string;
}

export type Status = "connecting" | "open" | "reconnecting" | "closed";

export interface BackoffOptions {
  /** First delay. Default 500 ms. */
  initialMs?: number;
  /** Largest delay. Default 30 s. */
  maxMs?: number;
  /** Growth per failed attempt. Default 2. */
  factor?: number;
  /** Fraction of each delay that is randomised ("equal jitter"). Default 0.5. */
  jitter?: number;
}

/**
 * What requestAccess may resolve to: the issuer's JSON body, or the fetch Response itself (the
 * client then checks `ok` and reads the body). Anything else is refused, never used as a URL.
 */
export type AccessResult = Access | Response | { error?: string };

export interface ConnectOptions {
  /**
   * Fetches a fresh handshake token; called before every attempt (tokens are single-use, 60 s),
   * and at once when the router closes with 4001 reauth_required (a role change, a session age).
   * It is then called with `{ reauth: true }`, and so is every try until a socket opens (one the
   * router refused, say): the token must carry the user's current rights, so
   * an app that caches its identity provider's session should refresh it first (the issuer copies
   * the role from that session's access token).
   * A refusal (non-OK response, `{error}` body, missing `token`/`url`) becomes
   * `onRejected("request_access:<error>")`; a thrown error (network) is retried.
   */
  requestAccess: (why: { reauth: boolean }) => Promise<AccessResult>;
  onWelcome?: (w: Welcome) => void;
  onPresence?: (p: PresenceEvent) => void;
  onMessage?: (m: ChatMessage) => void;
  onEvent?: (e: BackendEvent) => void;
  onError?: (e: ProtocolError) => void;
  onStatus?: (status: Status, detail: { code?: number; reason?: string; attempt: number; retryInMs?: number }) => void;
  /**
   * Called with the router's reason code when a handshake was refused (learned by pre-flight),
   * and with "revoked" when the router closed the socket with 4003 (the client then stops).
   */
  onRejected?: (reason: string) => void;
  /** Ask the router why a handshake failed (GET without Upgrade). Default true. */
  preflight?: boolean;
  backoff?: BackoffOptions;
  /** Gives up on an attempt whose socket is not open after this long, and on a pre-flight that long (then retries). Default 10 s; 0 = never. */
  connectTimeoutMs?: number;
  /**
   * Messages kept while (re)connecting and sent once open, oldest first. Default 32; 0 = off
   * (sending while not open throws). Messages sent with `{ volatile: true }` are never kept.
   */
  sendBufferSize?: number;
  /**
   * How often an open socket sends the text "ping" (answered "pong"). The Worker closes a socket
   * that sent none for two periods with 4000 (docs/protocol.md). Default 30 s; 0 turns it off.
   */
  pingIntervalMs?: number;
  /** Injection points for tests and non-browser runtimes. */
  WebSocket?: typeof WebSocket;
  fetch?: typeof fetch;
  random?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (id: unknown) => void;
}

export interface SendOptions {
  /** Drop the message instead of buffering it while the socket is not open (cursor moves, typing). */
  volatile?: boolean;
}

export interface Connection {
  readonly status: Status;
  /**
   * Sends now when open; otherwise buffers it (see sendBufferSize) and returns false when a
   * volatile message was dropped. Throws after close() or when the buffer is full.
   */
  broadcast(data: unknown, o?: SendOptions): boolean;
  direct(userId: string, data: unknown, o?: SendOptions): boolean;
  /** Closes for good (no reconnect). */
  close(): void;
}

/**
 * How long a socket opened after a 4001 must stay open before the next 4001 is again answered with
 * an immediate reconnect (ConnectOptions.requestAccess); a shorter-lived one backs off.
 */
export const REAUTH_SETTLE_MS = 10_000;

/** The ping period the routers expect (docs/protocol.md#liveness). */
export const PING_INTERVAL_MS = 30_000;

/** Close codes after which reconnecting cannot help (docs/protocol.md#close-codes). */
const TERMINAL_CLOSE = new Set([1000, 1007, 1009]);

/**
 * 4001 reauth_required: the user's role or rights changed, or the session reached its age
 * (MAX_SESSION_SECONDS). The token is stale, not the user: reconnect at once with a fresh one.
 */
export const CLOSE_REAUTH_REQUIRED = 4001;

/** 4003 revoked: the backend disconnected this user for good; the client stops and reports "revoked". */
export const CLOSE_REVOKED = 4003;

/** Handshake reasons a fresh token will not fix: configuration or identity problems. */
export const TERMINAL_REASONS = new Set([
  "origin_not_allowed", "org_mismatch", "wrong_scope", "wrong_issuer", "wrong_audience",
  "missing_claim", "invalid_claim", "claim_mismatch", "alg_not_allowed", "malformed", "token_too_large",
  "not_found", "revoked",
]);

/**
 * Issuer refusals (docs/reason-codes.md) that a retry cannot fix: the caller's session or
 * configuration is wrong. Others (token_expired, identity_provider_unavailable, rate_limited,
 * internal) are retried with backoff; requestAccess can refresh the session meanwhile.
 */
export const TERMINAL_ACCESS_REASONS = new Set([
  "missing_token", "invalid_token", "no_organization", "invalid_identity", "origin_not_allowed",
  "bad_request", "not_found", "method_not_allowed", "invalid_response",
]);

/** A refused requestAccess, as the reason reported to onRejected ("request_access:<error>"). */
class AccessRefused extends Error {
  constructor(readonly code: string) {
    super(`request_access:${code}`);
  }
}

const isResponse = (v: unknown): v is Response =>
  typeof v === "object" && v !== null && typeof (v as Response).ok === "boolean" && typeof (v as Response).json === "function";

/** Checks what requestAccess returned; throws AccessRefused for anything that is not a usable Access. */
export async function validateAccess(result: AccessResult): Promise<Access> {
  let body: unknown = result;
  if (isResponse(result)) {
    body = await result.json().catch(() => undefined);
    if (!result.ok) {
      const err = (body as { error?: unknown } | undefined)?.error;
      throw new AccessRefused(typeof err === "string" && /^[a-z_]{1,64}$/.test(err) ? err : `http_${result.status}`);
    }
  }
  if (typeof body !== "object" || body === null) throw new AccessRefused("invalid_response");
  const b = body as { token?: unknown; url?: unknown; expiresAt?: unknown; error?: unknown };
  if (typeof b.error === "string") throw new AccessRefused(/^[a-z_]{1,64}$/.test(b.error) ? b.error : "invalid_response");
  if (typeof b.token !== "string" || b.token === "" || typeof b.url !== "string" || !/^wss?:\/\/[^/]/.test(b.url)) {
    throw new AccessRefused("invalid_response");
  }
  return { token: b.token, url: b.url, expiresAt: typeof b.expiresAt === "number" ? b.expiresAt : 0 };
}

/** Delay before attempt n (0-based): exponential, capped, with equal jitter. */
export function backoffDelay(n: number, o: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = o.initialMs ?? 500;
  const max = o.maxMs ?? 30_000;
  const factor = o.factor ?? 2;
  const jitter = Math.min(Math.max(o.jitter ?? 0.5, 0), 1);
  const base = Math.min(max, initial * Math.pow(factor, n));
  return Math.round(base * (1 - jitter) + base * jitter * random());
}

/** The pre-flight URL of a socket URL: same path, http(s). */
export function preflightURL(wsURL: string): string {
  return wsURL.replace(/^ws(s?):\/\//, "http$1://");
}

export function connect(opts: ConnectOptions): Connection {
  const WS = opts.WebSocket ?? globalThis.WebSocket;
  const doFetch = opts.fetch ?? globalThis.fetch?.bind(globalThis);
  const random = opts.random ?? Math.random;
  const later = opts.setTimeout ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
  const cancel = opts.clearTimeout ?? ((id: unknown) => clearTimeout(id as ReturnType<typeof setTimeout>));
  let status: Status = "connecting";
  let ws: WebSocket | undefined;
  let attempt = 0;
  let stopped = false;
  let timer: unknown;
  let connectTimer: unknown;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  const bufferSize = opts.sendBufferSize ?? 32;
  const pending: string[] = [];
  let pingTimer: unknown;

  const setStatus = (s: Status, detail: { code?: number; reason?: string; retryInMs?: number } = {}) => {
    status = s;
    opts.onStatus?.(s, { ...detail, attempt });
  };

  const retry = (detail: { code?: number; reason?: string }, n = attempt) => {
    if (stopped) return;
    const delay = backoffDelay(n, opts.backoff, random);
    attempt++;
    setStatus("reconnecting", { ...detail, retryInMs: delay });
    timer = later(() => void open(), delay);
  };

  /**
   * 4001s in a row whose sockets did not stay open REAUTH_SETTLE_MS: a server that closes every
   * fresh socket with 4001 (a backend calling disconnect in a loop, a token that keeps the old
   * rights) would otherwise get a token request and a handshake per round trip, from every client.
   */
  let reauths = 0;

  /**
   * Set by a 4001 until a socket opens: every try meanwhile, not only the immediate one, asks
   * requestAccess for current rights (a try that fails would otherwise get the cached session's
   * old role back).
   */
  let reauthPending = false;

  /**
   * 4001: a fresh token now, no backoff on this first try; if it fails, the usual backoff follows.
   * A 4001 on the socket that try opened, before it settled, backs off too (attempt 1, 2, …).
   */
  const reauth = (detail: { code?: number; reason?: string }) => {
    if (stopped) return;
    reauthPending = true;
    if (reauths++ > 0) return retry(detail, reauths - 1);
    attempt++;
    setStatus("reconnecting", { ...detail, retryInMs: 0 });
    void open();
  };

  const stop = (detail: { code?: number; reason?: string }) => {
    stopped = true;
    pending.length = 0;
    setStatus("closed", detail);
  };

  const why = async (access: Access): Promise<string | undefined> => {
    if (opts.preflight === false || !doFetch) return undefined;
    // A black-holed router holds the pre-flight as long as it held the socket: bound it by the
    // same connect timeout, or the client would stay "connecting" forever and never retry.
    const ac = typeof AbortController === "function" ? new AbortController() : undefined;
    const ask = async (): Promise<string | undefined> => {
      try {
        const res = await doFetch(preflightURL(access.url), { headers: { Authorization: `Bearer ${access.token}` }, signal: ac?.signal });
        if (res.ok) return undefined;
        const body = (await res.json()) as { error?: string };
        return body.error;
      } catch {
        return undefined; // router unreachable: a network problem, retry
      }
    };
    if (connectTimeoutMs <= 0) return ask();
    let limit: unknown;
    const gaveUp = new Promise<undefined>((res) => {
      limit = later(() => {
        ac?.abort();
        res(undefined);
      }, connectTimeoutMs);
    });
    try {
      return await Promise.race([ask(), gaveUp]);
    } finally {
      cancel(limit);
    }
  };

  const open = async (): Promise<void> => {
    if (stopped) return;
    setStatus("connecting");
    const afterReauth = reauthPending;
    let access: Access;
    try {
      access = await validateAccess(await opts.requestAccess({ reauth: afterReauth }));
    } catch (e) {
      if (stopped) return;
      if (!(e instanceof AccessRefused)) return retry({ reason: "request_access_failed" });
      opts.onRejected?.(e.message);
      if (TERMINAL_ACCESS_REASONS.has(e.code)) return stop({ reason: e.message });
      return retry({ reason: e.message });
    }
    if (stopped) return;
    let opened = false;
    const sock = new WS(access.url, [SUBPROTOCOL, `bearer.${access.token}`]);
    ws = sock;
    if (connectTimeoutMs > 0) {
      connectTimer = later(() => {
        if (ws === sock && !opened) sock.close(); // a socket stuck in CONNECTING; onclose retries
      }, connectTimeoutMs);
    }
    const pingEvery = opts.pingIntervalMs ?? PING_INTERVAL_MS;
    const ping = () => {
      // One timer per socket, ending with it: a replaced or closed socket stops pinging.
      if (ws !== sock || stopped || sock.readyState !== WS.OPEN) return;
      sock.send("ping");
      pingTimer = later(ping, pingEvery);
    };
    sock.onopen = () => {
      cancel(connectTimer);
      opened = true;
      attempt = 0;
      reauthPending = false;
      // A socket a 4001 led to has settled once it stayed open this long: the next 4001 is
      // answered at once again. Until then a 4001 backs off (reauth).
      // A socket opened otherwise came through the backoff: a 4001 on it is answered at once.
      if (!afterReauth) reauths = 0;
      else later(() => {
        if (ws === sock) reauths = 0;
      }, REAUTH_SETTLE_MS);
      setStatus("open");
      while (pending.length > 0 && ws === sock) sock.send(pending.shift()!);
      if (pingEvery > 0) pingTimer = later(ping, pingEvery);
    };
    sock.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== "string" || ev.data === "pong") return;
      let msg: { type?: string };
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      switch (msg.type) {
        case "welcome": opts.onWelcome?.(msg as Welcome); break;
        case "presence": opts.onPresence?.(msg as PresenceEvent); break;
        case "message": opts.onMessage?.(msg as ChatMessage); break;
        case "event": opts.onEvent?.(msg as BackendEvent); break;
        case "error": opts.onError?.(msg as ProtocolError); break;
      }
    };
    sock.onclose = async (ev: CloseEvent) => {
      cancel(connectTimer);
      if (ws !== sock || stopped) return;
      ws = undefined;
      if (!opened) {
        // A refused handshake looks like 1006 to a browser; the pre-flight says why.
        const reason = await why(access);
        if (stopped) return; // close() during the pre-flight: the app asked for no more callbacks
        if (reason) opts.onRejected?.(reason);
        if (reason && TERMINAL_REASONS.has(reason)) return stop({ code: ev.code, reason });
        return retry({ code: ev.code, reason });
      }
      if (ev.code === CLOSE_REVOKED) {
        opts.onRejected?.("revoked");
        return stop({ code: ev.code, reason: "revoked" });
      }
      if (ev.code === CLOSE_REAUTH_REQUIRED) return reauth({ code: ev.code, reason: ev.reason });
      if (TERMINAL_CLOSE.has(ev.code)) return stop({ code: ev.code, reason: ev.reason });
      retry({ code: ev.code, reason: ev.reason });
    };
  };

  void open();

  const send = (msg: unknown, o: SendOptions = {}): boolean => {
    if (ws && ws.readyState === WS.OPEN) {
      ws.send(JSON.stringify(msg));
      return true;
    }
    if (stopped || bufferSize === 0) throw new Error("office-router: not connected");
    if (o.volatile) return false;
    if (pending.length >= bufferSize) throw new Error("office-router: send buffer full");
    pending.push(JSON.stringify(msg));
    return true;
  };

  return {
    get status() {
      return status;
    },
    broadcast: (data, o) => send({ type: "broadcast", data }, o),
    direct: (userId, data, o) => send({ type: "direct", to: userId, data }, o),
    close: () => {
      stopped = true;
      pending.length = 0;
      cancel(timer);
      cancel(connectTimer);
      cancel(pingTimer);
      const s = ws;
      ws = undefined;
      s?.close(1000, "client closed");
      setStatus("closed", { code: 1000 });
    },
  };
}
