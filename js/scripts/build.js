// Builds dist/: the browser modules exactly as the web adapter serves them (copied from
// src/timeledger/web/static, their one source) and their .d.ts, written by tsc from the JSDoc.
// `--modules-only` copies the modules and skips the .d.ts (all the unit tests need).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const source = fileURLToPath(new URL("../../src/timeledger/web/static/", import.meta.url));
const dist = `${root}dist/`;
const withTypes = !process.argv.includes("--modules-only");

if (withTypes) rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
for (const name of readdirSync(source).filter((file) => file.endsWith(".js"))) {
  copyFileSync(`${source}${name}`, `${dist}${name}`);
}
if (withTypes) {
  const tsc = `${root}node_modules/typescript/bin/tsc`;
  execFileSync(process.execPath, [tsc, "-p", `${root}tsconfig.build.json`], { stdio: "inherit" });
}
