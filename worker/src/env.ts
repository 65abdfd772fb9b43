// Bindings and vars declared in ../../wrangler.jsonc; documented in docs/configuration.md.
import type { WebSocketServer } from "./do";

export interface Env {
  WEBSOCKET_SERVER: DurableObjectNamespace<WebSocketServer>;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  CONN_JWT_PUBLIC_KEY: string;
  ALLOWED_ORIGINS: string;
  JWT_LEEWAY_SECONDS: string;
  JWT_MAX_TTL_SECONDS: string;
  /** "1": one log line per refused request (status, reason, org; never the token). The dev stack sets it. */
  LOG_REFUSALS?: string;
}
