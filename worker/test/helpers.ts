import { env, SELF } from "cloudflare:test";
import { calculateJwkThumbprint, exportJWK, importPKCS8, SignJWT } from "jose";

let signer: Promise<{ key: CryptoKey; kid: string }> | undefined;

function getSigner() {
  signer ??= (async () => {
    const key = await importPKCS8(env.TEST_PRIVATE_KEY, "RS256", { extractable: true });
    return { key, kid: await calculateJwkThumbprint(await exportJWK(key), "sha256") };
  })();
  return signer;
}

let counter = 0;

/** Signs a token with the throwaway test key A (configured in the Worker under test). */
export async function token(claims: Record<string, unknown> = {}, opts: { ttl?: number } = {}): Promise<string> {
  const { key, kid } = await getSigner();
  const now = Math.floor(Date.now() / 1000);
  const base: Record<string, unknown> = {
    userId: "alice", sub: "alice", orgId: "acme", role: "member",
    jti: `jti-${Date.now()}-${counter++}-${Math.random().toString(36).slice(2)}`,
    ...claims,
  };
  for (const k of Object.keys(base)) if (base[k] === undefined) delete base[k];
  return new SignJWT(base)
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid })
    .setIssuer(env.JWT_ISSUER ?? "")
    .setAudience(env.JWT_AUDIENCE)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + (opts.ttl ?? 60))
    .sign(key);
}

export const userToken = (userId: string, orgId = "acme", role = "member") => token({ userId, sub: userId, orgId, role });

export const publishToken = (orgId = "acme") => token({ scope: "publish", sub: "backend", orgId, userId: undefined, role: undefined });

export const upgradeHeaders = (extra: Record<string, string> = {}): Record<string, string> => ({
  Upgrade: "websocket",
  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version": "13",
  ...extra,
});

/** A client socket with a message queue: next() resolves with the next parsed frame. */
export class Client {
  private queue: unknown[] = [];
  private waiters: ((m: unknown) => void)[] = [];
  closed: Promise<CloseEvent>;

  constructor(readonly ws: WebSocket, readonly response: Response, opts?: WebSocketAcceptOptions) {
    ws.accept(opts);
    ws.addEventListener("message", (e) => {
      let m: unknown = e.data;
      try {
        m = JSON.parse(e.data as string);
      } catch {
        // non-JSON frames (the "pong" auto-response) are queued as raw strings
      }
      const w = this.waiters.shift();
      if (w) w(m);
      else this.queue.push(m);
    });
    this.closed = new Promise((resolve) =>
      ws.addEventListener("close", (e) => {
        // Answer the server's close as a browser does (newer compatibility dates do it themselves).
        if (!opts?.allowHalfOpen) {
          try {
            ws.close(e.code === 1005 || e.code === 1006 ? 1000 : e.code);
          } catch {
            // already closed
          }
        }
        resolve(e);
      }),
    );
  }

  next<T = Record<string, unknown>>(): Promise<T> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift() as T);
    return new Promise((resolve) => this.waiters.push(resolve as (m: unknown) => void));
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === "string" ? msg : JSON.stringify(msg));
  }

  close(): void {
    this.ws.close(1000, "bye");
  }
}

export async function connect(tok: string, org = "acme", how: "header" | "subprotocol" = "header"): Promise<Client> {
  const auth: Record<string, string> = how === "header" ? { Authorization: `Bearer ${tok}` } : { "Sec-WebSocket-Protocol": `office-router.v1, bearer.${tok}` };
  const res = await SELF.fetch(`https://router.test/orgs/${org}/ws`, { headers: upgradeHeaders(auth) });
  if (res.status !== 101 || !res.webSocket) throw new Error(`handshake failed: ${res.status} ${await res.text()}`);
  return new Client(res.webSocket, res);
}

/** The org's Durable Object stub. */
export const orgStub = (org: string) => env.WEBSOCKET_SERVER.get(env.WEBSOCKET_SERVER.idFromName(org));

/**
 * A raw client that never answers a close frame: accepted half-open, so the runtime sends no
 * reciprocal close either. It completes the close only when the test calls close().
 */
export async function connectHalfOpen(tok: string, org = "acme"): Promise<Client> {
  const res = await SELF.fetch(`https://router.test/orgs/${org}/ws`, { headers: upgradeHeaders({ Authorization: `Bearer ${tok}` }) });
  if (res.status !== 101 || !res.webSocket) throw new Error(`handshake failed: ${res.status} ${await res.text()}`);
  return new Client(res.webSocket, res, { allowHalfOpen: true });
}

/** Status and reason code of an error response. */
export async function errorOf(res: Response): Promise<[number, string]> {
  return [res.status, ((await res.json()) as { error: string }).error];
}

/** Sends a message the DO answers with an error frame: every frame queued before it has arrived. */
export async function framesBefore(c: Client): Promise<unknown[]> {
  c.send({ type: "probe" });
  const seen: unknown[] = [];
  for (;;) {
    const m = await c.next();
    if ((m as { type?: string }).type === "error") return seen;
    seen.push(m);
  }
}
