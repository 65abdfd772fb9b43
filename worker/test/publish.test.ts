// Backend publish: the strict body contract (issue 13 item 2), single-use tokens and a body
// limit enforced while reading (issue 18 item 7).
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BODY_READ_TIMEOUT_MS, readBody } from "../src/publish";
import { connect, errorOf, framesBefore, publishToken, userToken } from "./helpers";

const org = "org-strict-pub";
const url = `https://router.test/orgs/${org}/publish`;

async function publish(body: BodyInit, tok?: string): Promise<Response> {
  return SELF.fetch(url, { method: "POST", headers: { Authorization: `Bearer ${tok ?? (await publishToken(org))}` }, body });
}

describe("publish body", () => {
  const bad: [string, BodyInit][] = [
    ["to null (was an org-wide broadcast in Go)", '{"to":null,"data":"private"}'],
    ["upper-case keys", '{"TO":"carol","DATA":1}'],
    ["a case variant next to to", '{"to":"carol","TO":null,"data":1}'],
    ["duplicate data", '{"data":1,"data":2}'],
    ["a case variant of data", '{"Data":1}'],
    ["an unknown key", '{"data":1,"extra":true}'],
    ["no data", '{"to":"carol"}'],
    ["empty object", "{}"],
    ["to not a string", '{"to":5,"data":1}'],
    ["to not a user id", '{"to":"carol smith","data":1}'],
    ["to empty", '{"to":"","data":1}'],
    ["an array", '[{"data":1}]'],
    ["a string", '"data"'],
    ["null", "null"],
    ["empty body", ""],
    ["trailing garbage", '{"data":1} {}'],
    ["invalid JSON", '{"data":}'],
    ["invalid UTF-8", new Uint8Array([0x7b, 0x22, 0x64, 0x61, 0x74, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])],
  ];

  it.each(bad)("refuses %s with 400 bad_request and delivers it to no one", async (_name, body) => {
    const c = await connect(await userToken("carol", org), org);
    await c.next();
    expect(await errorOf(await publish(body))).toEqual([400, "bad_request"]);
    expect(await framesBefore(c)).toEqual([]);
    c.close();
  });

  it("passes data on to the org or one user", async () => {
    const a = await connect(await userToken("dave", org), org);
    await a.next();
    const b = await connect(await userToken("erin", org), org);
    await b.next();
    await a.next(); // join
    let res = await publish('{"to":"erin","data":{"k":1,"j":[null,"x"]}}');
    expect(await res.json()).toEqual({ delivered: 1 });
    expect(await b.next()).toEqual({ type: "event", data: { k: 1, j: [null, "x"] } });
    res = await publish('{ "data" : null }');
    expect(await res.json()).toEqual({ delivered: 2 });
    expect(await a.next()).toEqual({ type: "event", data: null });
    expect(await b.next()).toEqual({ type: "event", data: null });
    expect(await framesBefore(a)).toEqual([]);
    a.close();
    b.close();
  });
});

describe("publish tokens", () => {
  it("are single-use", async () => {
    const tok = await publishToken(org);
    expect((await publish('{"data":1}', tok)).status).toBe(200);
    expect(await errorOf(await publish('{"data":1}', tok))).toEqual([401, "replayed"]);
  });

  it("a handshake token cannot publish, and a publish token's jti is not a handshake's", async () => {
    expect(await errorOf(await publish('{"data":1}', await userToken("carol", org)))).toEqual([401, "wrong_scope"]);
  });
});

describe("publish body limit", () => {
  it("answers 413 once a chunked body passes 64 KiB, without waiting for its end", async () => {
    // 70 KiB, then a stream that never ends: reading in full would hang.
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent >= 70 * 1024) return new Promise(() => {});
        sent += 8192;
        ctl.enqueue(new Uint8Array(8192).fill(0x20));
      },
    });
    const res = await SELF.fetch(url, { method: "POST", headers: { Authorization: `Bearer ${await publishToken(org)}` }, body });
    expect(await errorOf(res)).toEqual([413, "body_too_large"]);
  });

  it("gives up with 400 bad_request on a body that never ends, as the Go proxy's ReadTimeout does", async () => {
    // A few bytes, then nothing, for ever: without a deadline the request is held as long as
    // its sender likes. The deadline is shortened here; the Worker's is BODY_READ_TIMEOUT_MS.
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent) return new Promise(() => {});
        sent = true;
        ctl.enqueue(new TextEncoder().encode('{"data":'));
      },
    });
    const req = new Request(url, { method: "POST", body });
    await expect(readBody(req, 64 * 1024, 50)).rejects.toMatchObject({ status: 400, code: "bad_request" });
    expect(BODY_READ_TIMEOUT_MS).toBe(15_000);
  });

  it("answers 413 on a Content-Length over the limit before reading", async () => {
    const res = await SELF.fetch(url, {
      method: "POST",
      headers: { Authorization: `Bearer ${await publishToken(org)}`, "Content-Length": String(64 * 1024 + 1) },
      body: "x".repeat(64 * 1024 + 1),
    });
    expect(await errorOf(res)).toEqual([413, "body_too_large"]);
  });
});
