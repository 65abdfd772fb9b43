import type { Env as WorkerEnv } from "../src/env";

interface Vector {
  name: string;
  kind: "handshake" | "publish";
  now: number;
  token: string;
  want: string;
  identity?: { userId?: string; orgId: string; role?: string; sub: string; jti: string; expiresAt: number };
}

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      VECTORS: {
        config: { issuer: string; audience: string; leewaySeconds: number; maxTtlSeconds: number; publicKeys: string };
        cases: Vector[];
      };
      PUBLISH_VECTORS: {
        org: string;
        online: string[];
        cases: {
          name: string;
          body?: string;
          bodyBase64?: string;
          want: { status: number; error?: string; deliver?: "org" | "user"; to?: string; data?: unknown };
        }[];
      };
      TEST_PRIVATE_KEY: string;
    }
  }
}
