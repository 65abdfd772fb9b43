// Real-browser end-to-end test: headless Debian Chromium driven by playwright-core against the
// one-command local stack (cmd/devstack: issuer in dev mode, wrangler dev, Go edge proxy) on
// free ports. Two pages of one org see each other; another org sees nothing; a replayed token is
// refused and the client recovers with a fresh one. A frontend developer's app on its own dev
// server (Vite-style, another origin) connects when its origin is allowed. Any console error a
// test does not expect fails it. Run by scripts/test.sh.
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey, createSign, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHTTPServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "../..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WAIT = { timeout: 20_000 };

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

let stackProc;
let browser;
let issuer;
let appServer;
let appPort;
/** Console errors of every page, checked after each test: unexpected ones fail it. */
let consoleErrors = [];
const tmp = mkdtempSync(join(tmpdir(), "office-router-browser-"));

before(async () => {
  const bin = join(tmp, "devstack");
  execFileSync("go", ["build", "-o", bin, "./cmd/devstack"], { cwd: root, stdio: "inherit" });
  const [ip, wp, pp] = [await freePort(), await freePort(), await freePort()];
  issuer = `http://127.0.0.1:${ip}`;
  appServer = startApp();
  appPort = await new Promise((res) => appServer.listen(0, "127.0.0.1", () => res(appServer.address().port)));
  // What `make dev ORIGINS=http://app.test:<port>` passes: the app's own origin.
  const origins = `http://app.test:${appPort}`;
  stackProc = spawn(bin, ["-issuer-addr", `127.0.0.1:${ip}`, "-worker-port", String(wp), "-proxy-addr", `127.0.0.1:${pp}`, "-dir", join(tmp, "dev"), "-origins", origins], {
    cwd: root,
    detached: true, // own process group: SIGTERM reaches wrangler and workerd too
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`devstack not up after 150 s:\n${out}`)), 150_000);
    const onData = (d) => {
      out += d;
      if (out.includes("local stack is up")) {
        clearTimeout(timer);
        res();
      }
    };
    stackProc.stdout.on("data", onData);
    stackProc.stderr.on("data", onData);
    stackProc.on("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`devstack exited (${code}):\n${out}`));
    });
  });
  stackProc.removeAllListeners("exit");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
      // app.test and other.test are the app's dev server under names the stack does or does not allow.
      "--host-resolver-rules=MAP app.test 127.0.0.1, MAP other.test 127.0.0.1"],
  });
});

beforeEach(() => {
  consoleErrors = [];
});

/** Fails the test on a console error it did not expect (allowed: regexps for expected refusals). */
function assertConsoleClean(allowed = []) {
  const unexpected = consoleErrors.filter((e) => !allowed.some((re) => re.test(e)));
  assert.deepEqual(unexpected, [], "unexpected console errors");
}

function watchConsole(page) {
  page.on("pageerror", (e) => consoleErrors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
}

after(async () => {
  await browser?.close();
  appServer?.close();
  if (stackProc?.pid) {
    const exited = new Promise((res) => stackProc.once("exit", res));
    try {
      process.kill(-stackProc.pid, "SIGTERM");
    } catch {}
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    try {
      process.kill(-stackProc.pid, "SIGKILL");
    } catch {}
  }
  rmSync(tmp, { recursive: true, force: true });
});

async function openPage(params) {
  const page = await browser.newPage();
  watchConsole(page);
  await page.goto(issuer + "/");
  await page.waitForFunction(() => window.demo !== undefined, null, WAIT);
  await page.evaluate((p) => window.demo.connect(p), params);
  await page.waitForFunction(() => window.demo.state.welcomes.length > 0, null, WAIT);
  return page;
}

for (const router of ["worker", "proxy"]) {
  describe(`browser against the ${router}`, () => {
    const org = `b-${router}-${Date.now()}`;
    test("two pages of one org see presence and messages; another org sees nothing", async () => {
      const a = await openPage({ user: "alice", org, router });
      const b = await openPage({ user: "bob", org, router });
      await a.waitForFunction(() => window.demo.state.events.includes("join bob"), null, WAIT);
      const bobSees = await b.evaluate(() => [...window.demo.state.presence.keys()].sort());
      assert.deepEqual(bobSees, ["alice", "bob"]);
      const x = await openPage({ user: "eve", org: org + "-other", router });

      await a.evaluate(() => window.demo.broadcast("hello from alice"));
      await b.waitForFunction(() => window.demo.state.messages.some((m) => m.data === "hello from alice" && m.from === "alice"), null, WAIT);
      await b.evaluate(() => window.demo.direct("alice", "psst"));
      await a.waitForFunction(() => window.demo.state.messages.some((m) => m.data === "psst" && m.direct), null, WAIT);
      // eve's page is connected to the same router and saw neither message nor presence.
      const eve = await x.evaluate(() => ({ messages: window.demo.state.messages.length, events: window.demo.state.events }));
      assert.deepEqual(eve, { messages: 0, events: [] });
      // The subprotocol carried the token; the page shows who is online.
      assert.match(await a.textContent("#presence"), /bob/);

      // The page says which router this tab uses.
      assert.match(await a.textContent("#router-in-use"), new RegExp(`^${router} \\(ws://127\\.0\\.0\\.1:\\d+\\)$`));
      assert.match(await a.title(), new RegExp(`alice@${org} via ${router}`));

      await b.close();
      await a.waitForFunction(() => window.demo.state.events.includes("leave bob"), null, WAIT);
      await a.close();
      await x.close();
      assertConsoleClean();
    });

    test("a replayed token is refused and the client recovers with a fresh one", async () => {
      const d = await openPage({ user: "dave", org, router });
      await d.evaluate(() => window.demo.reconnectWithUsedToken());
      await d.waitForFunction(() => window.demo.state.rejected.includes("replayed"), null, WAIT);
      await d.waitForFunction(() => window.demo.state.welcomes.length >= 2 && window.demo.state.status === "open", null, WAIT);
      await d.close();
      // The refused upgrade and the pre-flight's 401 are the browser's own, expected, reports.
      assertConsoleClean([/WebSocket connection to '.*' failed/, /Failed to load resource: the server responded with a status of 401/]);
    });
  });
}

/**
 * The app's backend: a service token signed with the dev stack's key (what issuer.Publisher and
 * `wsharness` do), for the route that needs `scope`.
 */
function serviceToken(scope, org) {
  const key = createPrivateKey(readFileSync(join(tmp, "dev", "dev-private.pem")));
  const { e, n } = createPublicKey(key).export({ format: "jwk" });
  const kid = createHash("sha256").update(JSON.stringify({ e, kty: "RSA", n })).digest("base64url"); // RFC 7638
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const signed = `${b64({ alg: "RS256", typ: "JWT", kid })}.${b64({
    iss: "office-router-dev", aud: "office-router", sub: "e2e-backend", orgId: org, scope,
    iat: now, nbf: now, exp: now + 60, jti: randomBytes(16).toString("hex"),
  })}`;
  return `${signed}.${createSign("RSA-SHA256").update(signed).sign(key).toString("base64url")}`;
}

/** The backend's call to a router's service route, over plain HTTP from Node. */
async function backend(router, method, path, scope, org, body) {
  const page = await browser.newPage();
  await page.goto(issuer + "/demo/config.json");
  const base = JSON.parse(await page.textContent("body")).routers.find((r) => r.name === router).url.replace(/^ws/, "http");
  await page.close();
  const res = await fetch(`${base}/orgs/${org}/${path}`, {
    method,
    headers: { Authorization: `Bearer ${serviceToken(scope, org)}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

// Issue 16 in both twins: the same browser, the same backend calls, the Worker and the Go hub.
for (const router of ["worker", "proxy"]) {
  describe(`server-side control against the ${router}`, () => {
    const org = `rc-${router}-${Date.now()}`;
    test("a role change: admin connected, disconnect 4001, a fresh token, the welcome shows the new role", async () => {
      const p = await openPage({ user: "root", org, router, role: "admin" });
      const first = await p.evaluate(() => window.demo.state.welcomes[0]);
      assert.equal(first.role, "admin");
      assert.deepEqual((await backend(router, "GET", "presence", "presence", org)).body, { users: [{ userId: "root", role: "admin", connections: 1 }] });

      // The identity provider demotes the user; the open socket still says admin until...
      await p.evaluate(() => window.demo.setRole("member"));
      // ...the backend asks the router to make it re-authenticate.
      assert.deepEqual(await backend(router, "POST", "disconnect", "disconnect", org, { userId: "root", code: 4001 }), { status: 200, body: { disconnected: 1 } });
      await p.waitForFunction(() => window.demo.state.welcomes.length >= 2, null, WAIT);
      const [again, status, rejected] = await p.evaluate(() => [window.demo.state.welcomes[1], window.demo.state.status, window.demo.state.rejected]);
      assert.equal(again.role, "member");
      assert.notEqual(again.connectionId, first.connectionId);
      assert.deepEqual(again.presence, [{ userId: "root", role: "member" }]);
      assert.equal(status, "open");
      assert.deepEqual(rejected, []);
      assert.deepEqual((await backend(router, "GET", "presence", "presence", org)).body, { users: [{ userId: "root", role: "member", connections: 1 }] });
      await p.close();
      assertConsoleClean();
    });

    test("4003 revoked with a block: the client stops and reports revoked", async () => {
      const p = await openPage({ user: "gone", org, router });
      assert.deepEqual((await backend(router, "POST", "disconnect", "disconnect", org, { userId: "gone", code: 4003, blockSeconds: 65 })).body, { disconnected: 1 });
      await p.waitForFunction(() => window.demo.state.status === "closed", null, WAIT);
      assert.deepEqual(await p.evaluate(() => window.demo.state.rejected), ["revoked"]);
      // A fresh connect of the blocked user is refused, and the pre-flight says why.
      await p.evaluate(() => window.demo.connect(window.demo.last));
      await p.waitForFunction(() => window.demo.state.rejected.length >= 2, null, WAIT);
      assert.deepEqual(await p.evaluate(() => [window.demo.state.rejected, window.demo.state.status]), [["revoked", "revoked"], "closed"]);
      await p.close();
      assertConsoleClean([/WebSocket connection to '.*' failed/, /Failed to load resource: the server responded with a status of 403/]);
    });
  });
}

test("the demo page's form validation works (patterns valid under the v flag)", async () => {
  const page = await browser.newPage();
  watchConsole(page);
  await page.goto(issuer + "/");
  await page.waitForFunction(() => window.demo !== undefined, null, WAIT);
  const valid = await page.evaluate(() => {
    const user = document.querySelector('input[name="user"]');
    const ok = user.checkValidity();
    user.value = "bad user!";
    const bad = user.checkValidity();
    user.value = "a-b_C9";
    return { ok, bad, dash: user.checkValidity() };
  });
  assert.deepEqual(valid, { ok: true, bad: false, dash: true });
  await page.close();
  assertConsoleClean();
});

// A frontend developer's app on its own dev server, as Vite serves it: another origin than the
// issuer's, the client as a module, tokens from the issuer by CORS, sockets to both routers.
const APP_HTML = `<!doctype html><meta charset="utf-8"><title>app</title>
<script type="module">
import { connect } from "/@modules/office-router-client.js";
const issuer = new URLSearchParams(location.search).get("issuer");
const router = new URLSearchParams(location.search).get("router");
window.app = { status: [], rejected: [], welcome: null };
const post = (path, body, token) => fetch(issuer + path, {
  method: "POST",
  headers: { "Content-Type": "application/json", ...(token ? { Authorization: "Bearer " + token } : {}) },
  body: body ? JSON.stringify(body) : undefined,
});
connect({
  requestAccess: async () => {
    const { accessToken } = await (await post("/dev/session", { userId: "vite", orgId: "vite-org", role: "member" })).json();
    const r = await post("/api/v1/cloudflare/request-access", null, accessToken);
    if (!r.ok || !router) return r; // the client checks r.ok and the body
    const a = await r.json();
    return { ...a, url: router + new URL(a.url).pathname };
  },
  onStatus: (s, d) => window.app.status.push(s + (d.reason ? ":" + d.reason : "")),
  onRejected: (r) => window.app.rejected.push(r),
  onWelcome: (w) => (window.app.welcome = w),
  backoff: { initialMs: 100, maxMs: 200 },
});
</script>`;

function startApp() {
  const client = readFileSync(join(root, "client/dist/office-router-client.js"));
  return createHTTPServer((req, res) => {
    if (req.url.startsWith("/@modules/office-router-client.js")) {
      res.writeHead(200, { "Content-Type": "text/javascript" });
      return res.end(client);
    }
    if (req.url === "/favicon.ico") {
      res.writeHead(204);
      return res.end();
    }
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(APP_HTML);
  });
}

describe("an app on its own dev server (Vite-style origin)", () => {
  const routerURL = async (name) => {
    const page = await browser.newPage();
    await page.goto(issuer + "/demo/config.json");
    const cfg = JSON.parse(await page.textContent("body"));
    await page.close();
    return cfg.routers.find((r) => r.name === name).url;
  };
  for (const [host, how] of [["localhost", "allowed by default in dev (http://localhost:*)"], ["app.test", "allowed by -origins (make dev ORIGINS=…)"]]) {
    for (const router of ["worker", "proxy"]) {
      test(`http://${host}:<port> connects to the ${router}: ${how}`, async () => {
        const page = await browser.newPage();
        watchConsole(page);
        const r = await routerURL(router);
        await page.goto(`http://${host}:${appPort}/?issuer=${encodeURIComponent(issuer)}&router=${encodeURIComponent(r)}`);
        await page.waitForFunction(() => window.app?.welcome !== null && window.app?.welcome !== undefined, null, WAIT);
        const w = await page.evaluate(() => window.app.welcome);
        assert.equal(w.userId, "vite");
        assert.equal(await page.evaluate(() => window.app.status.at(-1)), "open");
        await page.close();
        assertConsoleClean();
      });
    }
  }

  test("an origin the stack does not allow is refused by the issuer's CORS, before any socket", async () => {
    const page = await browser.newPage();
    watchConsole(page);
    await page.goto(`http://other.test:${appPort}/?issuer=${encodeURIComponent(issuer)}`);
    await page.waitForFunction(() => window.app?.status.includes("reconnecting:request_access_failed"), null, WAIT);
    assert.equal(await page.evaluate(() => window.app.welcome), null);
    await page.close();
    assertConsoleClean([/blocked by CORS policy/, /Failed to load resource: net::ERR_FAILED/]);
  });
});
