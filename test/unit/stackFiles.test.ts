/**
 * The stack files in the repository are shared by everyone who clones it: they
 * must hold nothing tied to one developer's secrets provider (an
 * `encryptionsalt`, a `secure:` value), and every value must have the type
 * Pulumi.yaml declares (a quoted "false" for a boolean passes the engine but
 * is not what the file means).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";

const ROOT = path.join(__dirname, "../..");

interface Declaration {
    type?: string;
    items?: { type: string };
}

/**
 * A tracked file's content as git holds it (the index: what the next commit
 * takes). The working copy of Pulumi.dev.yaml may carry this developer's salt,
 * which the clean filter in .gitattributes keeps out of git.
 */
function trackedContent(file: string): string {
    return execFileSync("git", ["show", `:${file}`], { cwd: ROOT, encoding: "utf8" });
}

/** Tracked Pulumi.<stack>.yaml files of every project in the repository. */
function trackedStackFiles(): string[] {
    const listed = execFileSync("git", ["ls-files", "--", "Pulumi.*.yaml", "**/Pulumi.*.yaml"], { cwd: ROOT, encoding: "utf8" });
    return listed.split("\n").filter((f) => f.length > 0 && !f.includes("node_modules/"));
}

/** Paths of every `secure:` value in a parsed YAML document. */
function securePaths(value: unknown, at: string[] = []): string[] {
    if (value === null || typeof value !== "object") return [];
    return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) =>
        key === "secure" ? [[...at, key].join(".")] : securePaths(inner, [...at, key]),
    );
}

/** The Pulumi config type name of a YAML value, as Pulumi.yaml spells it. */
function yamlType(value: unknown): string {
    if (Array.isArray(value)) return "array";
    if (value === null) return "null";
    if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
    return typeof value;
}

/** Why a stack file breaks the rules, one line per problem. */
function stackFileProblems(file: string, text: string, declared: Record<string, Declaration>, project: string): string[] {
    const problems: string[] = [];
    const doc = (load(text) ?? {}) as { encryptionsalt?: unknown; config?: Record<string, unknown> };
    if (doc.encryptionsalt !== undefined) problems.push(`${file}: has an encryptionsalt (tied to one passphrase)`);
    for (const p of securePaths(doc)) problems.push(`${file}: has a secure: value at ${p} (encrypted for one secrets provider)`);
    for (const [key, value] of Object.entries(doc.config ?? {})) {
        const [namespace, name] = key.split(":");
        if (namespace !== project || name === undefined) continue;
        const declaration = declared[name];
        if (!declaration) {
            problems.push(`${file}: ${key} is not declared in Pulumi.yaml`);
            continue;
        }
        const expected = declaration.type ?? "object";
        const actual = yamlType(value);
        if (actual !== expected) problems.push(`${file}: ${key} is ${actual}, Pulumi.yaml declares ${expected}`);
        if (expected === "array" && Array.isArray(value) && declaration.items) {
            value.forEach((item, i) => {
                if (yamlType(item) !== declaration.items!.type)
                    problems.push(`${file}: ${key}[${i}] is ${yamlType(item)}, Pulumi.yaml declares ${declaration.items!.type}`);
            });
        }
    }
    return problems;
}

const project = load(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { name: string; config: Record<string, Declaration> };

describe("tracked stack files", () => {
    const files = trackedStackFiles();

    it("include the dev and prod stacks", () => {
        expect(files).toEqual(expect.arrayContaining(["Pulumi.dev.yaml", "Pulumi.prod.yaml"]));
    });

    it.each(files.filter((f) => !f.includes("/")))("%s holds no salt, no secure: value, and only declared types", (file) => {
        expect(stackFileProblems(file, trackedContent(file), project.config, project.name)).toEqual([]);
    });

    it.each(files.filter((f) => f.includes("/")))("%s (an example) holds no salt and no secure: value", (file) => {
        const problems = stackFileProblems(file, trackedContent(file), {}, "");
        expect(problems).toEqual([]);
    });
});

describe("stackFileProblems", () => {
    const declared: Record<string, Declaration> = {
        protect: { type: "boolean" },
        retiredApps: { type: "array", items: { type: "string" } },
        apps: {},
    };
    it.each([
        ["an encryptionsalt", "encryptionsalt: v1:abc\nconfig: {}\n", "has an encryptionsalt"],
        [
            "a secure: value",
            "config:\n  p:servers:\n    lab:\n      admin:\n        password:\n          secure: v1:xyz\n",
            "secure: value at config.p:servers.lab.admin.password.secure",
        ],
        ["a quoted boolean", 'config:\n  p:protect: "false"\n', "p:protect is string, Pulumi.yaml declares boolean"],
        ["a list item of the wrong type", "config:\n  p:retiredApps: [1]\n", "p:retiredApps[0] is integer"],
        ["a list where a map is meant", "config:\n  p:apps: [grafana]\n", "p:apps is array, Pulumi.yaml declares object"],
        ["an undeclared key", "config:\n  p:protec: true\n", "p:protec is not declared"],
    ])("reports a file with %s", (_case, text, message) => {
        expect(stackFileProblems("Pulumi.x.yaml", text, declared, "p").join("\n")).toContain(message);
    });

    it("accepts a clean file", () => {
        expect(stackFileProblems("Pulumi.x.yaml", "config:\n  p:protect: false\n  p:apps: {}\n  other:key: 1\n", declared, "p")).toEqual(
            [],
        );
    });
});
