/**
 * The program's patches of the Pulumi Node.js SDK's internals, in one place,
 * applied by entry.js before the program loads. Each was measured
 * (bench/README.md) and each touches something private to the SDK, so each
 * first checks that what it replaces is still what it was written against:
 * the pinned SDK version, and the shape of the function it wraps. When either
 * differs the patch is skipped with one warning line, and the program runs
 * unpatched (slower, never wrong). test/unit/sdkPatches.test.ts fails when the
 * installed SDK is not the pinned one, so a dependency bump re-checks them.
 *
 * Modules are required inside each patch, not imported: the first patch must
 * be in place before anything loads `@pulumi/pulumi`.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import Module = require("node:module");

/** The @pulumi/pulumi version the patches were checked against (package.json pins it). */
export const PATCHED_SDK_VERSION = "3.259.0";

export interface SdkPatch {
    readonly name: string;
    /** Why it is skipped right now (an environment switch), or undefined. */
    readonly off?: () => string | undefined;
    /** What is not as the patch expects, or undefined when it may be applied. */
    readonly check: () => string | undefined;
    readonly apply: () => void;
}

const isFunction = (value: unknown, arity?: number): boolean =>
    typeof value === "function" && (arity === undefined || (value as (...a: unknown[]) => unknown).length === arity);

const debugOff = () => (process.env.APP_DATABASES_SDK_DEBUG ? "APP_DATABASES_SDK_DEBUG is set" : undefined);

/**
 * Loading `@pulumi/pulumi` loads its closure serializer, and with it the
 * TypeScript compiler and @npmcli/arborist: 55 MiB and 0.8 s at every start.
 * This program never serializes a closure (its dynamic providers load by
 * module, components/servedResource.ts), so both load on first use instead.
 */
const lazyModules: SdkPatch = {
    name: "lazy typescript-shim and arborist",
    check: () => {
        for (const request of ["@pulumi/pulumi/typescript-shim", "@npmcli/arborist"]) {
            try {
                require.resolve(request);
            } catch {
                return `${request} cannot be resolved`;
            }
        }
        return undefined;
    },
    apply: () => {
        lazyModule("@pulumi/pulumi/typescript-shim");
        lazyModule("@npmcli/arborist");
    },
};

/** Puts a stand-in for `request` in the require cache that loads the module when first used. */
function lazyModule(request: string): void {
    const file = require.resolve(request);
    if (require.cache[file]) return;
    let loaded: Record<PropertyKey, unknown> | undefined;
    const load = (): Record<PropertyKey, unknown> => {
        if (loaded === undefined) {
            delete require.cache[file];
            loaded = require(file) as Record<PropertyKey, unknown>;
        }
        return loaded;
    };
    const standIn = new Module(file, module);
    standIn.filename = file;
    standIn.loaded = true;
    standIn.exports = new Proxy(Object.create(null) as object, {
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

interface Debuggable {
    debuggablePromise: (promise: Promise<unknown>, context: unknown) => Promise<unknown>;
}

/**
 * The runtime keeps a stack string on every promise it makes (about 20,000 in
 * a 100-app preview), only for a leak report at exit: 22 MB of the heap with
 * 10 frames, 3.5% of the preview's CPU with 3. Those promises get none; every
 * other error keeps its stack. PULUMI_DEBUG_PROMISE_LEAKS keeps them too.
 */
const promiseStacks: SdkPatch = {
    name: "no stack on the runtime's promises",
    off: () => (process.env.PULUMI_DEBUG_PROMISE_LEAKS ? "PULUMI_DEBUG_PROMISE_LEAKS is set" : undefined),
    check: () =>
        isFunction((require("@pulumi/pulumi/runtime/debuggable") as Debuggable).debuggablePromise, 2)
            ? undefined
            : "runtime/debuggable.debuggablePromise is no longer a function of (promise, context)",
    apply: () => {
        const debuggable = require("@pulumi/pulumi/runtime/debuggable") as Debuggable;
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
    },
};

interface Callsite {
    readonly file?: string;
}
interface ResourceClass {
    callsites: (this: unknown) => Callsite[];
}

/** Resource.stackTrace(4) drops the first five frames: callsites, itself and three constructors. */
const DECLARING = 5;
/** The program's own frames kept above the declaring one. */
const CALLERS = 8;

/**
 * With every resource the runtime records the stack that declared it, and the
 * engine keeps it in the state: 17% of a 100-app state, most of it the
 * runtime's own frames. Each keeps the frame that declared it and at most 8 of
 * the program's own above it. APP_DATABASES_SDK_DEBUG=1 keeps the whole stack.
 */
const shortCallsites: SdkPatch = {
    name: "short resource stacks",
    off: debugOff,
    check: () => {
        const { Resource } = require("@pulumi/pulumi/resource") as { Resource: ResourceClass & { stackTrace?: unknown } };
        if (!isFunction(Resource.callsites, 0)) return "resource.Resource.callsites is no longer a static function of no arguments";
        if (!isFunction(Resource.stackTrace)) return "resource.Resource.stackTrace, which counts the frames callsites returns, is gone";
        return undefined;
    },
    apply: () => {
        const { Resource } = require("@pulumi/pulumi/resource") as { Resource: ResourceClass };
        const allCallsites = Resource.callsites;
        Resource.callsites = function callsites(this: unknown) {
            const frames = allCallsites.call(this);
            frames.splice(1, 1); // this wrapper: the runtime's count of frames leaves it out
            const callers = frames.slice(DECLARING + 1).filter((f) => f.file !== undefined && !f.file.includes("/node_modules/"));
            return [...frames.slice(0, DECLARING + 1), ...callers.slice(0, CALLERS)];
        };
    },
};

/**
 * The runtime sends each of its own debug lines to the engine as an RPC
 * (three per resource), which the CLI shows only under `pulumi --debug`: two
 * thirds of the program's RPCs, and 15% of the CPU of a 100-app no-op preview
 * (bench/README.md). APP_DATABASES_SDK_DEBUG=1 keeps them.
 */
const quietDebugLog: SdkPatch = {
    name: "no debug-log RPCs",
    off: debugOff,
    check: () =>
        isFunction((require("@pulumi/pulumi/log") as { debug: unknown }).debug) ? undefined : "log.debug is no longer a function",
    apply: () => {
        (require("@pulumi/pulumi/log") as { debug: () => Promise<void> }).debug = () => Promise.resolve();
    },
};

/** In the order they are applied: the lazy modules before anything loads the SDK. */
export const SDK_PATCHES: readonly SdkPatch[] = [lazyModules, promiseStacks, shortCallsites, quietDebugLog];

/** The installed @pulumi/pulumi's version. */
export const installedSdkVersion = (): string => (require("@pulumi/pulumi/package.json") as { version: string }).version;

/**
 * Applies each patch whose check passes; returns the one-line warnings of
 * those skipped for a reason other than a switch the user set.
 */
export function applySdkPatches(patches: readonly SdkPatch[] = SDK_PATCHES, version: string = installedSdkVersion()): string[] {
    if (version !== PATCHED_SDK_VERSION) {
        return [
            `app-databases: SDK patches skipped: they were checked against @pulumi/pulumi ${PATCHED_SDK_VERSION}, this is ${version} (re-check program/sdkPatches.ts); the program runs unpatched, only slower`,
        ];
    }
    const warnings: string[] = [];
    for (const patch of patches) {
        if (patch.off?.()) continue;
        const problem = patch.check();
        if (problem) {
            warnings.push(`app-databases: SDK patch "${patch.name}" skipped: ${problem} (re-check program/sdkPatches.ts)`);
            continue;
        }
        patch.apply();
    }
    return warnings;
}
