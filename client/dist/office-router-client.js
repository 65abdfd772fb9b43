// office-router browser client: one dependency-free ES module.
// Protocol, reason codes and close codes: docs/protocol.md and docs/reason-codes.md.
export const SUBPROTOCOL = "office-router.v1";
/** The ping period the routers expect (docs/protocol.md#liveness). */
export const PING_INTERVAL_MS = 30000;
/** Close codes after which reconnecting cannot help (docs/protocol.md#close-codes). */
const TERMINAL_CLOSE = new Set([1000, 1007, 1009]);
/** Handshake reasons a fresh token will not fix: configuration or identity problems. */
export const TERMINAL_REASONS = new Set([
    "origin_not_allowed", "org_mismatch", "wrong_scope", "wrong_issuer", "wrong_audience",
    "missing_claim", "invalid_claim", "claim_mismatch", "alg_not_allowed", "malformed", "token_too_large",
    "not_found",
]);
/** Delay before attempt n (0-based): exponential, capped, with equal jitter. */
export function backoffDelay(n, o = {}, random = Math.random) {
    const initial = o.initialMs ?? 500;
    const max = o.maxMs ?? 30000;
    const factor = o.factor ?? 2;
    const jitter = Math.min(Math.max(o.jitter ?? 0.5, 0), 1);
    const base = Math.min(max, initial * Math.pow(factor, n));
    return Math.round(base * (1 - jitter) + base * jitter * random());
}
/** The pre-flight URL of a socket URL: same path, http(s). */
export function preflightURL(wsURL) {
    return wsURL.replace(/^ws(s?):\/\//, "http$1://");
}
export function connect(opts) {
    const WS = opts.WebSocket ?? globalThis.WebSocket;
    const doFetch = opts.fetch ?? globalThis.fetch?.bind(globalThis);
    const random = opts.random ?? Math.random;
    const later = opts.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    const cancel = opts.clearTimeout ?? ((id) => clearTimeout(id));
    let status = "connecting";
    let ws;
    let attempt = 0;
    let stopped = false;
    let timer;
    let pingTimer;
    const setStatus = (s, detail = {}) => {
        status = s;
        opts.onStatus?.(s, { ...detail, attempt });
    };
    const retry = (detail) => {
        if (stopped)
            return;
        const delay = backoffDelay(attempt, opts.backoff, random);
        attempt++;
        setStatus("reconnecting", { ...detail, retryInMs: delay });
        timer = later(() => void open(), delay);
    };
    const stop = (detail) => {
        stopped = true;
        setStatus("closed", detail);
    };
    const why = async (access) => {
        if (opts.preflight === false || !doFetch)
            return undefined;
        try {
            const res = await doFetch(preflightURL(access.url), { headers: { Authorization: `Bearer ${access.token}` } });
            if (res.ok)
                return undefined;
            const body = (await res.json());
            return body.error;
        }
        catch {
            return undefined; // router unreachable: a network problem, retry
        }
    };
    const open = async () => {
        if (stopped)
            return;
        let access;
        try {
            access = await opts.requestAccess();
        }
        catch (e) {
            retry({ reason: "request_access_failed" });
            return;
        }
        if (stopped)
            return;
        let opened = false;
        const sock = new WS(access.url, [SUBPROTOCOL, `bearer.${access.token}`]);
        ws = sock;
        const pingEvery = opts.pingIntervalMs ?? PING_INTERVAL_MS;
        const ping = () => {
            // One timer per socket, ending with it: a replaced or closed socket stops pinging.
            if (ws !== sock || stopped || sock.readyState !== WS.OPEN)
                return;
            sock.send("ping");
            pingTimer = later(ping, pingEvery);
        };
        sock.onopen = () => {
            opened = true;
            attempt = 0;
            setStatus("open");
            if (pingEvery > 0)
                pingTimer = later(ping, pingEvery);
        };
        sock.onmessage = (ev) => {
            if (typeof ev.data !== "string" || ev.data === "pong")
                return;
            let msg;
            try {
                msg = JSON.parse(ev.data);
            }
            catch {
                return;
            }
            switch (msg.type) {
                case "welcome":
                    opts.onWelcome?.(msg);
                    break;
                case "presence":
                    opts.onPresence?.(msg);
                    break;
                case "message":
                    opts.onMessage?.(msg);
                    break;
                case "event":
                    opts.onEvent?.(msg);
                    break;
                case "error":
                    opts.onError?.(msg);
                    break;
            }
        };
        sock.onclose = async (ev) => {
            if (ws !== sock || stopped)
                return;
            ws = undefined;
            if (!opened) {
                // A refused handshake looks like 1006 to a browser; the pre-flight says why.
                const reason = await why(access);
                if (reason)
                    opts.onRejected?.(reason);
                if (reason && TERMINAL_REASONS.has(reason))
                    return stop({ code: ev.code, reason });
                return retry({ code: ev.code, reason });
            }
            if (TERMINAL_CLOSE.has(ev.code))
                return stop({ code: ev.code, reason: ev.reason });
            retry({ code: ev.code, reason: ev.reason });
        };
    };
    void open();
    const send = (msg) => {
        if (!ws || ws.readyState !== WS.OPEN)
            throw new Error("office-router: not connected");
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
