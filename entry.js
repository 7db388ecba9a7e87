// The program's entry point (Pulumi.yaml `main`): runs the compiled program in
// dist/, compiling it first when a TypeScript source is newer than the build.
// It sits at the top: Pulumi runs the program and its providers in the folder
// of `main`, and relative paths in config (passwordFile, sslrootcert) mean this one.
// Run through ts-node, every preview and up type-checked the whole program
// again (3 to 5 s each, bench/); this pays tsc once per edit, and type errors
// still stop the deploy before anything is applied.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const root = __dirname;
const built = path.join(root, "dist", "index.js");
const SOURCES = ["index.ts", "program", "components", "tsconfig.json", "tsconfig.build.json"];

function newestMtime(file) {
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (!stat) return 0;
    if (!stat.isDirectory()) return /\.(ts|json)$/.test(file) ? stat.mtimeMs : 0;
    return Math.max(0, ...fs.readdirSync(file).map((entry) => newestMtime(path.join(file, entry))));
}

const builtAt = fs.statSync(built, { throwIfNoEntry: false })?.mtimeMs ?? 0;
if (builtAt < Math.max(...SOURCES.map((s) => newestMtime(path.join(root, s))))) {
    const tsc = require.resolve("typescript/bin/tsc", { paths: [root] });
    const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, encoding: "utf8" });
    if (result.status !== 0) {
        const { RunError } = require("@pulumi/pulumi");
        const err = new RunError(
            `The program does not compile (tsc -p tsconfig.build.json, as \`npm run build\`); nothing was applied:\n${result.stdout}${result.stderr}`,
        );
        err.stack = undefined;
        throw err;
    }
}

// Pulumi records the full stack of every resource and every promise it makes,
// and the source-map-support its runtime installs maps each frame: a quarter of
// the program's CPU time in a no-op preview of 50 apps (V8 profiler). The
// program runs compiled and stays readable without the mapping.
delete Error.prepareStackTrace;

// The SDK patches (program/sdkPatches.ts, measured in bench/README.md): each
// checks the SDK is the pinned version and its target has the expected shape,
// and is skipped with one warning line otherwise.
for (const warning of require(path.join(root, "dist", "program", "sdkPatches.js")).applySdkPatches()) console.warn(warning);

module.exports = require(built);
