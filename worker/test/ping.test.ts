// The text "ping" and the message rate limit (docs/protocol.md#liveness): the Worker's runtime
// answers "ping" with "pong" without the Durable Object (setWebSocketAutoResponse), so it is not
// and cannot be counted against MESSAGES_PER_SECOND / MESSAGE_BURST. The Go hub, which writes
// each pong itself, counts it (proxy/hub_test.go: a ping flood closes with 1008).
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { connect, orgStub, userToken } from "./helpers";

describe("text ping and the message rate", () => {
  it("answers pings beyond the burst without counting them", async () => {
    const org = "org-ping-rate";
    await runInDurableObject(orgStub(org), (instance) => {
      Object.assign((instance as unknown as { limits: object }).limits, { messagesPerSecond: 1, messageBurst: 2 });
    });
    const w = await connect(await userToken("watcher", org), org);
    await w.next();
    const p = await connect(await userToken("pinger", org), org);
    await p.next();
    await w.next(); // join
    for (let i = 0; i < 10; i++) {
      p.ws.send("ping");
      expect(await p.next<unknown>()).toBe("pong");
    }
    // The burst is untouched: two messages pass, the third closes with 1008.
    p.send({ type: "broadcast", data: 1 });
    p.send({ type: "broadcast", data: 2 });
    expect(await w.next()).toMatchObject({ type: "message", data: 1 });
    expect(await w.next()).toMatchObject({ type: "message", data: 2 });
    p.send({ type: "broadcast", data: 3 });
    expect((await p.closed).code).toBe(1008);
    w.close();
  });
});
