import { readFileSync } from "node:fs";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// The shared conformance vectors and a throwaway test key (testdata/keys/README.md) reach the
// tests as bindings, so the Worker is configured exactly as the vectors say.
const vectors = JSON.parse(readFileSync(new URL("../testdata/vectors/handshake.json", import.meta.url), "utf8"));
const testKey = readFileSync(new URL("../testdata/keys/test-only-a.pem", import.meta.url), "utf8");

// CONN_JWT_PUBLIC_KEY is a required secret in wrangler.jsonc, not a var: wrangler looks for it in
// .dev.vars, .env or the process environment and warns when it is missing. The environment gives
// it to wrangler; `bindings` below still decides the value, so a developer's .dev.vars (which would
// replace the environment) cannot change what the vectors are judged with.
process.env.CONN_JWT_PUBLIC_KEY = vectors.config.publicKeys;

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "../wrangler.jsonc" },
      miniflare: {
        bindings: {
          JWT_ISSUER: vectors.config.issuer,
          JWT_AUDIENCE: vectors.config.audience,
          CONN_JWT_PUBLIC_KEY: vectors.config.publicKeys,
          JWT_LEEWAY_SECONDS: String(vectors.config.leewaySeconds),
          JWT_MAX_TTL_SECONDS: String(vectors.config.maxTtlSeconds),
          ALLOWED_ORIGINS: "https://app.test",
          VECTORS: vectors,
          TEST_PRIVATE_KEY: testKey,
        },
      },
    }),
  ],
  test: { include: ["test/**/*.test.ts"] },
});
