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
  MAX_CONNS_PER_USER?: string;
  MAX_CONNS_PER_ORG?: string;
  MESSAGES_PER_SECOND?: string;
  MESSAGE_BURST?: string;
}
