import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { unstable_readConfig } from "wrangler";

// The shared conformance vectors and a throwaway test key (testdata/keys/README.md) reach the
// tests as bindings, so the Worker is configured exactly as the vectors say.
const vectors = JSON.parse(readFileSync(new URL("../testdata/vectors/handshake.json", import.meta.url), "utf8"));
const disconnectVectors = JSON.parse(readFileSync(new URL("../testdata/vectors/disconnect.json", import.meta.url), "utf8"));
const testKey = readFileSync(new URL("../testdata/keys/test-only-a.pem", import.meta.url), "utf8");

// CONN_JWT_PUBLIC_KEY is a required secret in wrangler.jsonc, not a var: wrangler looks for it in
// .dev.vars, .env or the process environment and warns when it is missing. The environment gives
// it to wrangler; `bindings` below still decides the value, so a developer's .dev.vars (which would
// replace the environment) cannot change what the vectors are judged with.
process.env.CONN_JWT_PUBLIC_KEY = vectors.config.publicKeys;

// Every var of wrangler.jsonc's top level goes in `bindings` too, for the same reason: with a
// secret declared, the pool lets a process variable or a .dev.vars entry named like a var replace
// it, so a shell that exports MESSAGE_BURST or MAX_CONNS_PER_USER changed what the limit tests saw
// (71 failures with MAX_CONNS_PER_USER=1 MESSAGE_BURST=1 MESSAGES_PER_SECOND=1).
const configPath = fileURLToPath(new URL("../wrangler.jsonc", import.meta.url));
const configVars = unstable_readConfig({ config: configPath }).vars;

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "../wrangler.jsonc" },
      miniflare: {
        bindings: {
          ...configVars,
          JWT_ISSUER: vectors.config.issuer,
          JWT_AUDIENCE: vectors.config.audience,
          CONN_JWT_PUBLIC_KEY: vectors.config.publicKeys,
          JWT_LEEWAY_SECONDS: String(vectors.config.leewaySeconds),
          JWT_MAX_TTL_SECONDS: String(vectors.config.maxTtlSeconds),
          ALLOWED_ORIGINS: "https://app.test",
          VECTORS: vectors,
          DISCONNECT_VECTORS: disconnectVectors,
          TEST_PRIVATE_KEY: testKey,
        },
      },
    }),
  ],
  test: { include: ["test/**/*.test.ts"] },
});
