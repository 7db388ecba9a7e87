/**
 * The library and the program apart: components/ is the reusable component
 * library (the package entry), program/ is the stack program built on it.
 * Imports run one way only, program/ -> components/; the package entry
 * exports the components, their args and the types those args use.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import * as entry from "../../components";

const ROOT = path.resolve(__dirname, "../..");
const LIBRARY = path.join(ROOT, "components");
const PROGRAM = path.join(ROOT, "program");

/** Every module specifier a TypeScript file imports or re-exports (static, dynamic and require). */
function specifiers(file: string): string[] {
    const src = fs.readFileSync(file, "utf8");
    const found: string[] = [];
    const patterns = [
        /\b(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/g,
        /\bimport\s*["']([^"']+)["']/g,
        /\b(?:import|require)\s*\(\s*["']([^"']+)["']\s*\)/g,
    ];
    for (const pattern of patterns) for (const m of src.matchAll(pattern)) found.push(m[1]);
    return found;
}

const tsFiles = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        return e.isDirectory() ? tsFiles(p) : e.name.endsWith(".ts") ? [p] : [];
    });

/** The relative imports of `file` that resolve outside `dir`. */
function importsLeaving(file: string, dir: string): string[] {
    return specifiers(file)
        .filter((s) => s.startsWith("."))
        .filter((s) => {
            const target = path.resolve(path.dirname(file), s);
            return target !== dir && !target.startsWith(dir + path.sep);
        });
}

describe("the layout", () => {
    it("finds the imports it checks (the parser is not blind)", () => {
        expect(specifiers(path.join(PROGRAM, "stack.ts"))).toContain("../components/appDatabase");
        expect(specifiers(path.join(LIBRARY, "appDatabase.ts"))).toContain("./rolePair");
    });

    it("keeps components/ free of imports from outside it (nothing from program/ or the stack's index.ts)", () => {
        const leaving = tsFiles(LIBRARY).flatMap((file) =>
            importsLeaving(file, LIBRARY).map((s) => `${path.relative(ROOT, file)} imports ${s}`),
        );
        expect(leaving).toEqual([]);
    });

    it("keeps components/ free of the stack program's own dependencies (zod, pulumi.Config)", () => {
        const offenders = tsFiles(LIBRARY).filter((file) => {
            const src = fs.readFileSync(file, "utf8");
            return specifiers(file).includes("zod") || /\bpulumi\.Config\b/.test(src);
        });
        expect(offenders.map((f) => path.relative(ROOT, f))).toEqual([]);
    });

    it("exports the components and their args from the package entry, and no helpers", () => {
        expect(Object.keys(entry).sort()).toEqual([
            "AdoptedDatabase",
            "AdoptedRole",
            "AppDatabase",
            "BudgetError",
            "ConnectionBudget",
            "DataLossGuard",
            "DatabaseAccess",
            "DedicatedServer",
            "ObjectOwnership",
            "RolePair",
            "RoleSettings",
            "SharedServer",
        ]);
    });

    it("re-exports by name only in the package entry (no export *)", () => {
        expect(fs.readFileSync(path.join(LIBRARY, "index.ts"), "utf8")).not.toMatch(/export\s*\*/);
    });
});
