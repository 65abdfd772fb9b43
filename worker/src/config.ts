// Worker configuration from wrangler vars (docs/configuration.md), validated once per isolate.
import type { Env } from "./env";
import { ANY_ORIGIN_FOR_SOCKETS, originMatches, parseOriginPattern, type OriginPattern } from "./origins";
import { importPublicKeys, type VerifyConfig } from "./verify";

export interface RouterConfig extends VerifyConfig {
  allowedOrigins: OriginPattern[];
}

let cached: { sig: string; cfg: Promise<RouterConfig> } | undefined;

function seconds(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined || raw.trim() === "") return dflt;
  if (!/^[0-9]+$/.test(raw.trim()) || Number(raw) > 86400) {
    throw new Error(`${name}: want whole seconds from 0 to 86400`);
  }
  return Number(raw);
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
      .map((o) => o.trim())
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
  };
}

/** The validated config; a bad variable rejects with an error that names it (never its value). */
export function getConfig(env: Env): Promise<RouterConfig> {
  const sig = [env.JWT_ISSUER, env.JWT_AUDIENCE, env.CONN_JWT_PUBLIC_KEY, env.ALLOWED_ORIGINS, env.JWT_LEEWAY_SECONDS, env.JWT_MAX_TTL_SECONDS].join("\u0000");
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
