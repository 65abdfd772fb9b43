export declare const SUBPROTOCOL = "office-router.v1";
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
export type AccessResult = Access | Response | {
    error?: string;
};
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
    requestAccess: (why: {
        reauth: boolean;
    }) => Promise<AccessResult>;
    onWelcome?: (w: Welcome) => void;
    onPresence?: (p: PresenceEvent) => void;
    onMessage?: (m: ChatMessage) => void;
    onEvent?: (e: BackendEvent) => void;
    onError?: (e: ProtocolError) => void;
    onStatus?: (status: Status, detail: {
        code?: number;
        reason?: string;
        attempt: number;
        retryInMs?: number;
    }) => void;
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
export declare const REAUTH_SETTLE_MS = 10000;
/** The ping period the routers expect (docs/protocol.md#liveness). */
export declare const PING_INTERVAL_MS = 30000;
/**
 * 4001 reauth_required: the user's role or rights changed, or the session reached its age
 * (MAX_SESSION_SECONDS). The token is stale, not the user: reconnect at once with a fresh one.
 */
export declare const CLOSE_REAUTH_REQUIRED = 4001;
/** 4003 revoked: the backend disconnected this user for good; the client stops and reports "revoked". */
export declare const CLOSE_REVOKED = 4003;
/** Handshake reasons a fresh token will not fix: configuration or identity problems. */
export declare const TERMINAL_REASONS: Set<string>;
/**
 * Issuer refusals (docs/reason-codes.md) that a retry cannot fix: the caller's session or
 * configuration is wrong. Others (token_expired, identity_provider_unavailable, rate_limited,
 * internal) are retried with backoff; requestAccess can refresh the session meanwhile.
 */
export declare const TERMINAL_ACCESS_REASONS: Set<string>;
/** Checks what requestAccess returned; throws AccessRefused for anything that is not a usable Access. */
export declare function validateAccess(result: AccessResult): Promise<Access>;
/** Delay before attempt n (0-based): exponential, capped, with equal jitter. */
export declare function backoffDelay(n: number, o?: BackoffOptions, random?: () => number): number;
/** The pre-flight URL of a socket URL: same path, http(s). */
export declare function preflightURL(wsURL: string): string;
export declare function connect(opts: ConnectOptions): Connection;
