// Real-browser end-to-end test: headless Debian Chromium driven by playwright-core against the
// one-command local stack (cmd/devstack: issuer in dev mode, wrangler dev, Go edge proxy) on
// free ports. Two pages of one org see each other; another org sees nothing; a replayed token is
// refused and the client recovers with a fresh one. Run by scripts/test.sh.
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
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
const tmp = mkdtempSync(join(tmpdir(), "office-router-browser-"));

before(async () => {
  const bin = join(tmp, "devstack");
  execFileSync("go", ["build", "-o", bin, "./cmd/devstack"], { cwd: root, stdio: "inherit" });
  const [ip, wp, pp] = [await freePort(), await freePort(), await freePort()];
  issuer = `http://127.0.0.1:${ip}`;
  stackProc = spawn(bin, ["-issuer-addr", `127.0.0.1:${ip}`, "-worker-port", String(wp), "-proxy-addr", `127.0.0.1:${pp}`, "-dir", join(tmp, "dev")], {
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
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
});

after(async () => {
  await browser?.close();
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
  page.on("pageerror", (e) => console.error("page error:", e));
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

      await b.close();
      await a.waitForFunction(() => window.demo.state.events.includes("leave bob"), null, WAIT);
      await a.close();
      await x.close();
    });

    test("a replayed token is refused and the client recovers with a fresh one", async () => {
      const d = await openPage({ user: "dave", org, router });
      await d.evaluate(() => window.demo.reconnectWithUsedToken());
      await d.waitForFunction(() => window.demo.state.rejected.includes("replayed"), null, WAIT);
      await d.waitForFunction(() => window.demo.state.welcomes.length >= 2 && window.demo.state.status === "open", null, WAIT);
      await d.close();
    });
  });
}
