/**
 * The schemas each role reaches and the settings its sessions start with: pure functions.
 */
import { describe, expect, it } from "vitest";
import { roleSchemasProblem, searchPathFor, sessionSettingsIn } from "../../components/schemaPrivileges";

describe("searchPathFor", () => {
    it.each([
        [["public"], undefined, undefined],
        [["tracksolid", "reporting"], undefined, "tracksolid, reporting, public"],
        [["public", "geo"], undefined, "public, geo"],
        [["geo", "public"], undefined, "geo, public"],
        [["tracksolid"], ["tracksolid", "ext"], "tracksolid, ext"],
        [["public"], ["public", "ext"], "public, ext"],
    ] as const)("gives %j (explicit %j) the search_path %j", (schemas, explicit, expected) => {
        expect(searchPathFor(schemas, explicit)).toBe(expected);
    });
});

describe("sessionSettingsIn", () => {
    it.each([
        [undefined, undefined, {}],
        ["a, public", undefined, { search_path: "a, public" }],
        [undefined, "shop_migrate", { role: "shop_migrate" }],
        ["a, public", "shop_migrate", { search_path: "a, public", role: "shop_migrate" }],
    ] as const)("with search_path %j and run-as %j sets %j", (path, runAs, expected) => {
        expect(sessionSettingsIn(path, runAs)).toEqual(expected);
    });
});

describe("roleSchemasProblem", () => {
    it("accepts some of the app's schemas", () => {
        expect(roleSchemasProblem(["reporting"], ["tracksolid", "reporting"])).toBeUndefined();
    });
    it("names the schemas the app does not list", () => {
        expect(roleSchemasProblem(["billing", "reporting", "x"], ["tracksolid", "reporting"])).toBe(
            'expected schemas among the app\'s schemas (tracksolid, reporting), got "billing", "x"',
        );
    });
    it("refuses none", () => {
        expect(roleSchemasProblem([], ["public"])).toBe("expected at least one of the app's schemas, got none");
    });
});
