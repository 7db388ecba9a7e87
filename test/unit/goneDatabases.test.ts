/**
 * A protected stack's app database gone from its shared server: refused by
 * the preflight, naming the app, the database and the way back.
 */
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../program/config";
import type { ServerAdoptionFacts } from "../../program/adoption";
import { absentDatabases, goneDatabaseProblems } from "../../program/goneDatabases";

const config = (protect: boolean) =>
    parseStackConfig({
        protect,
        servers: { lab: { host: "db.lab", admin: { username: "postgres", password: "pw" } } },
        apps: { shop: { connectionLimit: 3 }, wiki: { connectionLimit: 2 } },
    });
const facts = (databases: string[]): Record<string, ServerAdoptionFacts> => ({ lab: { databases, roles: {}, adopted: {} } });
const lastUp = { apps: { shop: { placement: "shared", server: "lab", database: "shop" } } };

describe("goneDatabaseProblems", () => {
    it("refuses a database the last up left and the server lacks, in a protected stack", () => {
        expect(goneDatabaseProblems(config(true), facts(["postgres"]), lastUp)).toEqual([
            "apps.shop: database shop is gone from server lab, where the last up left it, and this stack protects data (protect: true): " +
                "it is not made again, empty. Nothing was applied. The way back: restore it from a backup (database shop, owned by shop_migrate), then run the up again.",
        ]);
    });

    it.each([
        ["the database is there", config(true), facts(["shop"]), lastUp],
        ["the stack does not protect data", config(false), facts([]), lastUp],
        ["the app is new (not in the last up)", config(true), facts([]), { apps: {} }],
        [
            "the app was on another server",
            config(true),
            facts([]),
            { apps: { shop: { placement: "shared", server: "old", database: "shop" } } },
        ],
        ["there was no last up", config(true), facts([]), undefined],
    ])("says nothing when %s", (_what, stack, onServer, previous) => {
        expect(goneDatabaseProblems(stack, onServer, previous)).toEqual([]);
    });

    it("lists the shared apps whose database is absent only in a protected stack (the last up is read only then)", () => {
        expect(absentDatabases(config(true), facts(["shop"])).map((a) => a.name)).toEqual(["wiki"]);
        expect(absentDatabases(config(false), facts([]))).toEqual([]);
    });
});
