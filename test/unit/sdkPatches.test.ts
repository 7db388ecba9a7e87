/**
 * The SDK patches (program/sdkPatches.ts) against the installed SDK: it is the
 * version they were checked against (a dependency bump fails here until they
 * are checked again), every check passes, applied they do what they say, and
 * a patch whose target changed shape is skipped with one warning line.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { applySdkPatches, installedSdkVersion, PATCHED_SDK_VERSION, SDK_PATCHES, SdkPatch } from "../../program/sdkPatches";

const ROOT = path.resolve(__dirname, "../..");

describe("SDK patches", () => {
    it("were checked against the SDK installed and pinned", () => {
        const pinned = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> })
            .dependencies["@pulumi/pulumi"];
        expect(installedSdkVersion()).toBe(PATCHED_SDK_VERSION);
        expect(pinned).toBe(PATCHED_SDK_VERSION);
    });

    it("find every target as they expect it", () => {
        expect(SDK_PATCHES.map((p) => [p.name, p.check()])).toEqual(SDK_PATCHES.map((p) => [p.name, undefined]));
    });

    it("skip all, with one line, on another SDK version", () => {
        let applied = 0;
        const patch: SdkPatch = { name: "p", check: () => undefined, apply: () => applied++ };
        expect(applySdkPatches([patch], "3.999.0")).toEqual([
            `app-databases: SDK patches skipped: they were checked against @pulumi/pulumi ${PATCHED_SDK_VERSION}, this is 3.999.0 (re-check program/sdkPatches.ts); the program runs unpatched, only slower`,
        ]);
        expect(applied).toBe(0);
    });

    it("skip one whose target changed, apply the others, and say nothing of one a switch turned off", () => {
        const applied: string[] = [];
        const patches: SdkPatch[] = [
            { name: "changed", check: () => "x.y is no longer a function", apply: () => applied.push("changed") },
            { name: "switched off", off: () => "SOME_SWITCH is set", check: () => undefined, apply: () => applied.push("off") },
            { name: "fine", check: () => undefined, apply: () => applied.push("fine") },
        ];
        expect(applySdkPatches(patches, PATCHED_SDK_VERSION)).toEqual([
            'app-databases: SDK patch "changed" skipped: x.y is no longer a function (re-check program/sdkPatches.ts)',
        ]);
        expect(applied).toEqual(["fine"]);
    });

    it("applied, do what they say", async () => {
        delete process.env.APP_DATABASES_SDK_DEBUG;
        delete process.env.PULUMI_DEBUG_PROMISE_LEAKS;
        const shim = require.resolve("@pulumi/pulumi/typescript-shim");
        const wasLoaded = require.cache[shim] !== undefined;
        expect(applySdkPatches()).toEqual([]);
        /* eslint-disable @typescript-eslint/no-require-imports */
        const log = require("@pulumi/pulumi/log") as { debug: (m: string) => Promise<void> };
        await expect(log.debug("not sent")).resolves.toBeUndefined();
        const { debuggablePromise } = require("@pulumi/pulumi/runtime/debuggable") as {
            debuggablePromise: (p: Promise<number>, c: string) => Promise<number>;
        };
        await expect(debuggablePromise(Promise.resolve(7), "ctx")).resolves.toBe(7);
        const { Resource } = require("@pulumi/pulumi/resource") as { Resource: { callsites: { name: string } } };
        /* eslint-enable @typescript-eslint/no-require-imports */
        expect(Resource.callsites.name).toBe("callsites");
        // Not loaded until used (unless something had loaded it before the patch).
        if (!wasLoaded) expect(require.cache[shim]?.loaded).toBe(true);
    });
});
