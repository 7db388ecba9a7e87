/**
 * Pulumi.yaml declares the project's config (types, defaults, descriptions) so
 * `pulumi config` and editors know it; program/config.ts validates it. This
 * keeps the two from drifting apart.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { PLACEMENTS, stackConfigSchema } from "../../program/config";

interface Declaration {
    type?: string;
    default?: unknown;
    description?: string;
    items?: { type: string };
}

const project = load(fs.readFileSync(path.join(__dirname, "../../Pulumi.yaml"), "utf8")) as { config: Record<string, Declaration> };
const declared = project.config;
const shape = stackConfigSchema.shape as Record<
    string,
    { def: { type: string; innerType?: unknown; element?: { def: { type: string } } } }
>;

/** The Pulumi config type of a zod field, looking through defaults and optionals. */
function pulumiType(field: (typeof shape)[string]): string {
    let def = field.def;
    while (def.type === "default" || def.type === "optional") def = (def.innerType as typeof field).def;
    return (
        { boolean: "boolean", string: "string", enum: "string", array: "array", record: "object", object: "object", unknown: "object" }[
            def.type
        ] ?? def.type
    );
}

describe("Pulumi.yaml config declaration", () => {
    it("declares exactly the keys the schema reads", () => {
        expect(Object.keys(declared).sort()).toEqual(Object.keys(shape).sort());
    });

    it.each(Object.keys(shape))("declares %s with the schema's type, default and a description", (key) => {
        const declaration = declared[key];
        // apps is declared without a type, so that an emptied `apps:` reaches the program.
        expect(declaration.type).toBe(key === "apps" ? undefined : pulumiType(shape[key]));
        // Nor a default: a stack file with no apps at all is refused by the engine, not read as `apps: {}`.
        expect(declaration.default).toEqual(key === "apps" ? undefined : (stackConfigSchema.parse({}) as Record<string, unknown>)[key]);
        expect(declaration.description?.length ?? 0).toBeGreaterThan(20);
        if (declaration.type === "array") expect(declaration.items).toEqual({ type: "string" });
    });

    it("names every placement in the placement description", () => {
        for (const placement of PLACEMENTS) expect(declared.placement.description).toContain(placement);
    });
});
