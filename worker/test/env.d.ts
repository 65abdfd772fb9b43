// Test-only bindings (vitest.config.ts), on top of the generated Env (worker-configuration.d.ts).
export {};
interface Vector {
  name: string;
  kind: "handshake" | "publish" | "presence" | "disconnect";
  now: number;
  token: string;
  want: string;
  identity?: { userId?: string; orgId: string; role?: string; sub: string; jti: string; expiresAt: number };
}

declare global {
  namespace Cloudflare {
    interface Env {
      VECTORS: {
        config: { issuer: string; audience: string; leewaySeconds: number; maxTtlSeconds: number; publicKeys: string };
        cases: Vector[];
      };
      TEST_PRIVATE_KEY: string;
      DISCONNECT_VECTORS: {
        org: string;
        online: string[];
        cases: {
          name: string;
          body?: string;
          bodyBase64?: string;
          want: { status: number; error?: string; userId?: string; code?: number; blockSeconds?: number; disconnected?: number };
        }[];
      };
    }
  }
}
