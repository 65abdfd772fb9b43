// The connect hand-off from the edge to the org's DO (issue 15): one typed Admission, read
// strictly, that only the Worker can write.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { admissionRequest, readAdmission, readRefusal, refusalResponse, type Admission } from "../src/admission";
import { errorOf, orgStub, upgradeHeaders, userToken } from "./helpers";

const who: Admission = { userId: "amy", orgId: "org-adm", role: "member", jti: "adm-1", replayUntil: 2_000_000_000, subprotocol: "" };
const withHeader = (value: string | null) =>
  new Request("https://do/connect", { headers: value === null ? { Upgrade: "websocket" } : { Upgrade: "websocket", "X-Office-Admission": value } });

describe("readAdmission", () => {
  const cases: { name: string; header: string | null; want: Admission | undefined }[] = [
    { name: "round trip", header: admissionRequest(who).headers.get("X-Office-Admission"), want: who },
    { name: "no header", header: null, want: undefined },
    { name: "not JSON", header: "userId=amy", want: undefined },
    { name: "an array", header: JSON.stringify([who]), want: undefined },
    { name: "null", header: "null", want: undefined },
    { name: "a missing key", header: JSON.stringify({ ...who, subprotocol: undefined }), want: undefined },
    { name: "an unknown key", header: JSON.stringify({ ...who, admin: true }), want: undefined },
    { name: "a number as a string", header: JSON.stringify({ ...who, replayUntil: "2000000000" }), want: undefined },
    { name: "null as absent", header: JSON.stringify({ ...who, role: null }), want: undefined },
    { name: "an empty user id", header: JSON.stringify({ ...who, userId: "" }), want: undefined },
    { name: "an empty jti", header: JSON.stringify({ ...who, jti: "" }), want: undefined },
  ];
  it.each(cases)("$name", ({ header, want }) => {
    expect(readAdmission(withHeader(header))).toEqual(want);
  });
});

describe("readRefusal", () => {
  const answer = (status: number, body: string) => new Response(body, { status });
  it.each([
    ["replayed", refusalResponse("replayed"), "replayed"],
    ["expired", refusalResponse("expired"), "expired"],
    ["too_many_connections", refusalResponse("too_many_connections"), "too_many_connections"],
    ["a reason under the wrong status", answer(429, '{"error":"replayed"}'), undefined],
    ["an unknown reason", answer(401, '{"error":"bad_signature"}'), undefined],
    ["an inherited name", answer(401, '{"error":"toString"}'), undefined],
    ["not JSON", answer(500, "Internal Server Error"), undefined],
  ])("%s", async (_name, res, want) => {
    expect(await readRefusal(res)).toBe(want);
  });
});

describe("the DO's fetch", () => {
  it.each([
    ["no admission", withHeader(null)],
    ["a bad admission", withHeader('{"userId":"amy"}')],
    ["no Upgrade", new Request("https://do/connect", { headers: { "X-Office-Admission": JSON.stringify(who) } })],
  ])("answers %s with 400 bad_request and records no jti", async (_name, req) => {
    const stub = orgStub("org-adm");
    expect(await errorOf(await stub.fetch(req))).toEqual([400, "bad_request"]);
    expect(await stub.preflight(who.jti, who.userId)).toBeNull();
  });

  it("maps its refusals to the reasons the edge maps to statuses", async () => {
    const stub = orgStub("org-adm-refuse");
    const a = { ...who, orgId: "org-adm-refuse", jti: "adm-2" };
    const first = await stub.fetch(admissionRequest(a));
    expect(first.status).toBe(101);
    first.webSocket!.accept();
    expect(await errorOf(await stub.fetch(admissionRequest(a)))).toEqual([401, "replayed"]);
    expect(await errorOf(await stub.fetch(admissionRequest({ ...a, jti: "adm-3", replayUntil: 1 })))).toEqual([401, "expired"]);
    first.webSocket!.close(1000);
  });
});

describe("the edge", () => {
  it("never passes a client's own admission header on", async () => {
    const tok = await userToken("dora");
    const forged = JSON.stringify({ ...who, userId: "mallory", orgId: "acme", role: "admin" });
    const res = await SELF.fetch("https://router.test/orgs/acme/ws", { headers: upgradeHeaders({ Authorization: `Bearer ${tok}`, "X-Office-Admission": forged }) });
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    const first = await new Promise<Record<string, unknown>>((r) => res.webSocket!.addEventListener("message", (e) => r(JSON.parse(e.data as string)), { once: true }));
    expect(first).toMatchObject({ type: "welcome", userId: "dora", orgId: "acme", role: "member" });
    res.webSocket!.close(1000);
  });
});
