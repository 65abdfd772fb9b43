// LOG_REFUSALS=1 (set by the dev stack) logs one line per refused request, never the token.
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import type { Env } from "../src/env";
import { token } from "./helpers";

afterEach(() => vi.restoreAllMocks());

async function warnings(vars: Partial<Env>, headers: Record<string, string>): Promise<string[]> {
  const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
  await worker.fetch(new Request("https://router.test/orgs/acme/ws", { headers }), { ...env, ...vars } as Env);
  return warn.mock.calls.map((c) => c.join(" "));
}

describe("refusal log", () => {
  it("is one line with status, reason and org, without the token", async () => {
    const tok = await token({}, { ttl: -10 });
    const lines = await warnings({ LOG_REFUSALS: "1" }, { Authorization: `Bearer ${tok}`, Origin: "https://app.test" });
    expect(lines).toEqual(['refused  worker GET /orgs/acme/ws → 401 expired org=acme origin="https://app.test"']);
    expect(lines.join("")).not.toContain(tok.split(".")[1]);
  });

  it("is off unless LOG_REFUSALS is 1", async () => {
    expect(await warnings({}, {})).toEqual([]);
  });
});
