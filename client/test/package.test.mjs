// The client is installable as a package (`npm install <path or git url>`): its exports resolve
// to the committed ES module and its types, and the packed tarball ships both.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..");

test("the package name resolves through exports to the ES module", async () => {
  // Self-reference by name works only through package.json "exports".
  const mod = await import("office-router-client");
  assert.equal(typeof mod.connect, "function");
  assert.equal(mod.SUBPROTOCOL, "office-router.v1");
  assert.equal(fileURLToPath(import.meta.resolve("office-router-client")), join(dir, "dist", "office-router-client.js"));
});

test("npm pack ships the module and its types", () => {
  const [info] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json"], { cwd: dir, encoding: "utf8" }));
  const files = info.files.map((f) => f.path).sort();
  for (const want of ["dist/office-router-client.js", "dist/office-router-client.d.ts", "package.json"]) {
    assert.ok(files.includes(want), `${want} in ${files.join(", ")}`);
  }
  assert.ok(!files.some((f) => f.startsWith("test/") || f.startsWith("node_modules/")), files.join(", "));
  const pkg = JSON.parse(execFileSync("node", ["-p", "JSON.stringify(require('./package.json'))"], { cwd: dir, encoding: "utf8" }));
  assert.ok(existsSync(join(dir, pkg.exports["."].types)));
});
