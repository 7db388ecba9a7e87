import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { moduleRef, providerStub } from "../../components/dynamicProvider";
import { databaseAccessProvider } from "../../components/databaseAccess";

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

describe("providerStub", () => {
    it("has the provider's methods and serializes to a small function with no absolute path", async () => {
        const stub = providerStub(path.join(ROOT, "components", "databaseAccess.ts"), "databaseAccessProvider", databaseAccessProvider);
        expect(Object.keys(stub).sort()).toEqual(Object.keys(databaseAccessProvider).sort());
        const full = await pulumi.runtime.serializeFunction(() => databaseAccessProvider, { isFactoryFunction: true });
        const small = await pulumi.runtime.serializeFunction(() => stub, { isFactoryFunction: true });
        expect(small.text.length).toBeLessThan(full.text.length / 5);
        expect(small.text).not.toContain(ROOT);
        expect(small.text).toContain('"databaseAccessProvider"');
    });
});
