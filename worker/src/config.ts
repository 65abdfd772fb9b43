// Worker configuration from wrangler vars (docs/configuration.md), validated once per isolate.
import { ANY_ORIGIN_FOR_SOCKETS, originMatches, parseOriginPattern, trimEntry, type OriginPattern } from "./origins";
import { importPublicKeys, type VerifyConfig } from "./verify";

export interface RouterConfig extends VerifyConfig {
  allowedOrigins: OriginPattern[];
  limits: Limits;
}

/** The Durable Object's limits: the Go proxy's names and defaults (docs/configuration.md). */
export interface Limits {
  /** MAX_CONNS_PER_USER: sockets one user may hold in an org; over it 429 too_many_connections. Defaults to 16. */
  maxConnsPerUser: number;
  /** MAX_CONNS_PER_ORG: sockets one org may hold; over it 429 too_many_connections. Defaults to 10000. */
  maxConnsPerOrg: number;
  /** MESSAGES_PER_SECOND: steady message rate per socket; over it close 1008. Defaults to 50. */
  messagesPerSecond: number;
  /** MESSAGE_BURST: messages a socket may send at once before the rate applies. Defaults to 100. */
  messageBurst: number;
  /**
   * MAX_SESSION_SECONDS: a socket's age limit; at accept + this × uniform(0.9, 1.1) it is closed
   * with 4001 reauth_required and the client reconnects with a fresh token. Defaults to 0 (off).
   */
  maxSessionSeconds: number;
}

let cached: { sig: string; cfg: Promise<RouterConfig> } | undefined;

function seconds(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined || raw.trim() === "") return dflt;
  if (!/^[0-9]+$/.test(raw.trim()) || Number(raw) > 86400) {
    throw new Error(`${name}: want whole seconds from 0 to 86400`);
  }
  return Number(raw);
}

function positive(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined || raw.trim() === "") return dflt;
  if (!/^[0-9]+$/.test(raw.trim()) || Number(raw) < 1 || Number(raw) > 1_000_000) {
    throw new Error(`${name}: want a whole number from 1 to 1000000`);
  }
  return Number(raw);
}

/** The limit variables; absent or empty means the default. */
type LimitVars = Partial<Pick<Env, "MAX_CONNS_PER_USER" | "MAX_CONNS_PER_ORG" | "MESSAGES_PER_SECOND" | "MESSAGE_BURST" | "MAX_SESSION_SECONDS">>;

/** The limits from the environment; a bad value throws an error that names the variable. */
export function limitsFromEnv(env: LimitVars): Limits {
  return {
    maxConnsPerUser: positive("MAX_CONNS_PER_USER", env.MAX_CONNS_PER_USER, 16),
    maxConnsPerOrg: positive("MAX_CONNS_PER_ORG", env.MAX_CONNS_PER_ORG, 10000),
    messagesPerSecond: positive("MESSAGES_PER_SECOND", env.MESSAGES_PER_SECOND, 50),
    messageBurst: positive("MESSAGE_BURST", env.MESSAGE_BURST, 100),
    maxSessionSeconds: seconds("MAX_SESSION_SECONDS", env.MAX_SESSION_SECONDS, 0),
  };
}

async function build(env: Env): Promise<RouterConfig> {
  if (!env.JWT_ISSUER) throw new Error("JWT_ISSUER is required");
  if (!env.JWT_AUDIENCE) throw new Error("JWT_AUDIENCE is required");
  if (!env.CONN_JWT_PUBLIC_KEY) throw new Error("CONN_JWT_PUBLIC_KEY is required");
  return {
    issuer: env.JWT_ISSUER,
    audience: env.JWT_AUDIENCE,
    leewaySeconds: seconds("JWT_LEEWAY_SECONDS", env.JWT_LEEWAY_SECONDS, 5),
    maxTtlSeconds: seconds("JWT_MAX_TTL_SECONDS", env.JWT_MAX_TTL_SECONDS, 60) || 60,
    keys: await importPublicKeys(env.CONN_JWT_PUBLIC_KEY),
    allowedOrigins: (env.ALLOWED_ORIGINS ?? "")
      .split(",")
      .map(trimEntry)
      .filter((o) => o !== "")
      .map((o) => {
        let p: OriginPattern;
        try {
          p = parseOriginPattern(o);
        } catch (e) {
          throw new Error(`ALLOWED_ORIGINS: ${JSON.stringify(o)}: ${e instanceof Error ? e.message : String(e)}`);
        }
        if (p.any) throw new Error(`ALLOWED_ORIGINS: ${ANY_ORIGIN_FOR_SOCKETS}`);
        return p;
      }),
      // Checked here too, so that a bad limit answers misconfigured at the edge, not inside the DO.
      limits: limitsFromEnv(env),
  };
}

/** The validated config; a bad variable rejects with an error that names it (never its value). */
export function getConfig(env: Env): Promise<RouterConfig> {
  const sig = [env.JWT_ISSUER, env.JWT_AUDIENCE, env.CONN_JWT_PUBLIC_KEY, env.ALLOWED_ORIGINS, env.JWT_LEEWAY_SECONDS, env.JWT_MAX_TTL_SECONDS,
    env.MAX_CONNS_PER_USER, env.MAX_CONNS_PER_ORG, env.MESSAGES_PER_SECOND, env.MESSAGE_BURST, env.MAX_SESSION_SECONDS].join("\u0000");
  if (cached?.sig !== sig) {
    const cfg = build(env);
    cfg.catch(() => {
      if (cached?.cfg === cfg) cached = undefined; // retry on the next request
    });
    cached = { sig, cfg };
  }
  return cached.cfg;
}

export function originAllowed(cfg: RouterConfig, origin: string): boolean {
  return cfg.allowedOrigins.some((p) => originMatches(p, origin));
}
