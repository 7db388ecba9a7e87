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
const Module = require("node:module");

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

// The runtime also keeps a stack string on every promise it makes (about 20,000
// in a 100-app preview), only for a leak report at exit: 22 MB of the heap with
// 10 frames, 3.5% of the preview's CPU with 3. Those promises get none;
// every other error keeps its stack. PULUMI_DEBUG_PROMISE_LEAKS keeps them too.
if (!process.env.PULUMI_DEBUG_PROMISE_LEAKS) {
    const debuggable = require("@pulumi/pulumi/runtime/debuggable");
    const withStack = debuggable.debuggablePromise;
    debuggable.debuggablePromise = (promise, context) => {
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 0;
        try {
            return withStack(promise, context);
        } finally {
            Error.stackTraceLimit = limit;
        }
    };
}

// With every resource the runtime records the stack that declared it, and the
// engine keeps it in the state: 17% of a 100-app state, most of it the
// runtime's own frames. Each keeps the frame that declared it and at most 8 of
// the program's own above it. APP_DATABASES_SDK_DEBUG=1 keeps the whole stack.
if (!process.env.APP_DATABASES_SDK_DEBUG) {
    const { Resource } = require("@pulumi/pulumi/resource");
    const allCallsites = Resource.callsites;
    // Resource.stackTrace(4) drops the first five frames: callsites, itself and three constructors.
    const DECLARING = 5;
    const CALLERS = 8;
    Resource.callsites = function callsites() {
        const frames = allCallsites.call(this);
        frames.splice(1, 1); // this wrapper: the runtime's count of frames leaves it out
        const callers = frames.slice(DECLARING + 1).filter((f) => f.file !== undefined && !f.file.includes("/node_modules/"));
        return [...frames.slice(0, DECLARING + 1), ...callers.slice(0, CALLERS)];
    };
}

// The runtime sends each of its own debug lines to the engine as an RPC (three
// per resource: "Registering resource", "RegisterResource RPC prepared", ...),
// which the CLI shows only under `pulumi --debug`: two thirds of the program's
// RPCs, and 15% of the CPU of a 100-app no-op preview (bench/README.md).
// APP_DATABASES_SDK_DEBUG=1 keeps them.
if (!process.env.APP_DATABASES_SDK_DEBUG) {
    const log = require("@pulumi/pulumi/log");
    log.debug = () => Promise.resolve();
}

// Loading `@pulumi/pulumi` loads its closure serializer, and with it the
// TypeScript compiler and @npmcli/arborist: 55 MiB and 0.8 s at every start.
// This program never serializes a closure (its dynamic providers load by
// module, components/servedResource.ts), so both load on first use instead.
lazyModule("@pulumi/pulumi/typescript-shim");
lazyModule("@npmcli/arborist");

/** Puts a stand-in for `request` in the require cache that loads the module when first used. */
function lazyModule(request) {
    const file = require.resolve(request);
    if (require.cache[file]) return;
    let loaded;
    const load = () => {
        if (loaded === undefined) {
            delete require.cache[file];
            loaded = require(file);
        }
        return loaded;
    };
    const standIn = new Module(file, module);
    standIn.filename = file;
    standIn.loaded = true;
    standIn.exports = new Proxy(Object.create(null), {
        // `__esModule` lets TypeScript's import helpers take the stand-in as it is, unloaded.
        get: (_, key) => (key === "__esModule" && loaded === undefined ? true : load()[key]),
        has: (_, key) => key in load(),
        ownKeys: () => Reflect.ownKeys(load()),
        getOwnPropertyDescriptor: (_, key) => {
            const descriptor = Reflect.getOwnPropertyDescriptor(load(), key);
            return descriptor && { ...descriptor, configurable: true };
        },
    });
    require.cache[file] = standIn;
}

module.exports = require(built);
