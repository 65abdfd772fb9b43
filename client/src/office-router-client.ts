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

export interface ConnectOptions {
  /** Fetches a fresh handshake token; called before every attempt (tokens are single-use, 60 s). */
  requestAccess: () => Promise<Access>;
  onWelcome?: (w: Welcome) => void;
  onPresence?: (p: PresenceEvent) => void;
  onMessage?: (m: ChatMessage) => void;
  onEvent?: (e: BackendEvent) => void;
  onError?: (e: ProtocolError) => void;
  onStatus?: (status: Status, detail: { code?: number; reason?: string; attempt: number; retryInMs?: number }) => void;
  /** Called with the router's reason code when a handshake was refused (learned by pre-flight). */
  onRejected?: (reason: string) => void;
  /** Ask the router why a handshake failed (GET without Upgrade). Default true. */
  preflight?: boolean;
  backoff?: BackoffOptions;
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

export interface Connection {
  readonly status: Status;
  broadcast(data: unknown): void;
  direct(userId: string, data: unknown): void;
  /** Closes for good (no reconnect). */
  close(): void;
}

/** The ping period the routers expect (docs/protocol.md#liveness). */
export const PING_INTERVAL_MS = 30_000;

/** Close codes after which reconnecting cannot help (docs/protocol.md#close-codes). */
const TERMINAL_CLOSE = new Set([1000, 1007, 1009]);

/** Handshake reasons a fresh token will not fix: configuration or identity problems. */
export const TERMINAL_REASONS = new Set([
  "origin_not_allowed", "org_mismatch", "wrong_scope", "wrong_issuer", "wrong_audience",
  "missing_claim", "invalid_claim", "claim_mismatch", "alg_not_allowed", "malformed", "token_too_large",
  "not_found",
]);

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
  let pingTimer: unknown;

  const setStatus = (s: Status, detail: { code?: number; reason?: string; retryInMs?: number } = {}) => {
    status = s;
    opts.onStatus?.(s, { ...detail, attempt });
  };

  const retry = (detail: { code?: number; reason?: string }) => {
    if (stopped) return;
    const delay = backoffDelay(attempt, opts.backoff, random);
    attempt++;
    setStatus("reconnecting", { ...detail, retryInMs: delay });
    timer = later(() => void open(), delay);
  };

  const stop = (detail: { code?: number; reason?: string }) => {
    stopped = true;
    setStatus("closed", detail);
  };

  const why = async (access: Access): Promise<string | undefined> => {
    if (opts.preflight === false || !doFetch) return undefined;
    try {
      const res = await doFetch(preflightURL(access.url), { headers: { Authorization: `Bearer ${access.token}` } });
      if (res.ok) return undefined;
      const body = (await res.json()) as { error?: string };
      return body.error;
    } catch {
      return undefined; // router unreachable: a network problem, retry
    }
  };

  const open = async (): Promise<void> => {
    if (stopped) return;
    let access: Access;
    try {
      access = await opts.requestAccess();
    } catch (e) {
      retry({ reason: "request_access_failed" });
      return;
    }
    if (stopped) return;
    let opened = false;
    const sock = new WS(access.url, [SUBPROTOCOL, `bearer.${access.token}`]);
    ws = sock;
    const pingEvery = opts.pingIntervalMs ?? PING_INTERVAL_MS;
    const ping = () => {
      // One timer per socket, ending with it: a replaced or closed socket stops pinging.
      if (ws !== sock || stopped || sock.readyState !== WS.OPEN) return;
      sock.send("ping");
      pingTimer = later(ping, pingEvery);
    };
    sock.onopen = () => {
      opened = true;
      attempt = 0;
      setStatus("open");
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
      if (ws !== sock || stopped) return;
      ws = undefined;
      if (!opened) {
        // A refused handshake looks like 1006 to a browser; the pre-flight says why.
        const reason = await why(access);
        if (reason) opts.onRejected?.(reason);
        if (reason && TERMINAL_REASONS.has(reason)) return stop({ code: ev.code, reason });
        return retry({ code: ev.code, reason });
      }
      if (TERMINAL_CLOSE.has(ev.code)) return stop({ code: ev.code, reason: ev.reason });
      retry({ code: ev.code, reason: ev.reason });
    };
  };

  void open();

  const send = (msg: unknown) => {
    if (!ws || ws.readyState !== WS.OPEN) throw new Error("office-router: not connected");
    ws.send(JSON.stringify(msg));
  };

  return {
    get status() {
      return status;
    },
    broadcast: (data) => send({ type: "broadcast", data }),
    direct: (userId, data) => send({ type: "direct", to: userId, data }),
    close: () => {
      stopped = true;
      cancel(timer);
      cancel(pingTimer);
      const s = ws;
      ws = undefined;
      s?.close(1000, "client closed");
      setStatus("closed", { code: 1000 });
    },
  };
}
