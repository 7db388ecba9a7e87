import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { moduleRef, providerModule } from "../../components/dynamicProvider";
import { adoptedRoleProvider } from "../../components/adoptedRole";

const ROOT = path.join(__dirname, "..", "..");

describe("moduleRef", () => {
    it("names the project's own file by a path from the directory the program runs in", () => {
        const file = path.join(ROOT, "dist", "components", "databaseAccess.js");
        expect(moduleRef(file, path.join(ROOT, "program"))).toEqual({ project: "../dist/components/databaseAccess.js" });
        expect(moduleRef(file, ROOT)).toEqual({ project: "dist/components/databaseAccess.js" });
    });

    it("names a dependency's file by its package, beside the package's entry point", () => {
        const consumer = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-consumer-"));
        try {
            expect(moduleRef(path.join(ROOT, "dist", "components", "databaseAccess.js"), consumer)).toEqual({
                package: "app-databases",
                file: "databaseAccess.js",
            });
        } finally {
            fs.rmSync(consumer, { recursive: true });
        }
    });
});

describe("providerModule", () => {
    /** What Pulumi's nodejs dynamic provider does with the text: require-from-string in `cwd`, then handler(). */
    function loadIn(cwd: string, text: string): string[] {
        const requireFromString = require.resolve("require-from-string", { paths: [require.resolve("@pulumi/pulumi")] });
        const script = `const p = require(${JSON.stringify(requireFromString)})(${JSON.stringify(text)}).handler(); console.log(JSON.stringify(Object.keys(p).sort()))`;
        const run = spawnSync(process.execPath, ["-e", script], { cwd, encoding: "utf8" });
        expect(run.stderr).toBe("");
        return JSON.parse(run.stdout) as string[];
    }

    function project(): { dir: string; file: string } {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-provider-"));
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "some-project" }));
        fs.mkdirSync(path.join(dir, "dist"));
        const file = path.join(dir, "dist", "thing.js");
        fs.writeFileSync(file, "exports.thingProvider = { create() {}, diff() {}, read() {}, update() {}, delete() {} };\n");
        return { dir, file };
    }

    it("is one short line that loads the provider in the directory the program runs in, with no absolute path", () => {
        const { dir, file } = project();
        try {
            const text = providerModule(file, "thingProvider", dir);
            expect(text).toBe('exports.handler = () => require(require("path").resolve("dist/thing.js"))["thingProvider"];\n');
            expect(text).not.toContain(dir);
            expect(loadIn(dir, text)).toEqual(["create", "delete", "diff", "read", "update"]);
        } finally {
            fs.rmSync(dir, { recursive: true });
        }
    });

    it("finds a dependency's file beside its package's entry point", () => {
        const consumer = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-consumer-"));
        const { dir, file } = project();
        try {
            fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "some-project", main: "dist/index.js" }));
            fs.writeFileSync(path.join(dir, "dist", "index.js"), "");
            fs.mkdirSync(path.join(consumer, "node_modules"));
            fs.symlinkSync(dir, path.join(consumer, "node_modules", "some-project"));
            const text = providerModule(file, "thingProvider", consumer);
            expect(text).not.toContain(dir);
            expect(loadIn(consumer, text)).toEqual(["create", "delete", "diff", "read", "update"]);
        } finally {
            fs.rmSync(consumer, { recursive: true });
            fs.rmSync(dir, { recursive: true });
        }
    });

    it("is a few hundred bytes for a TypeScript source, not the serialized provider", async () => {
        // AdoptedRole's: the ones that generate passwords capture node:crypto, which cannot be serialized at all.
        const text = providerModule(path.join(ROOT, "components", "adoptedRole.ts"), "adoptedRoleProvider", ROOT);
        const full = await pulumi.runtime.serializeFunction(() => adoptedRoleProvider, { isFactoryFunction: true });
        expect(text.length).toBeLessThan(500);
        expect(full.text.length).toBeGreaterThan(20 * text.length);
        expect(text).toContain('require("path").resolve("components/adoptedRole.ts")');
        expect(text).toContain("ts-node");
    });
});
