/**
 * What a dynamic resource stores as its provider: a small stub that loads the
 * real provider from this package's files when the engine calls it.
 *
 * Pulumi serializes a dynamic provider by capturing everything its functions
 * call: 29 KB of code for DatabaseAccess, stored twice per resource (inputs
 * and outputs), two thirds of a 50-app stack's state, which the engine
 * rewrites after every step. The stub is about 1 KB. It also means one copy
 * of adminConnection.ts in the provider process, so every dynamic resource
 * shares its one-session gate (each serialized closure had a gate of its own).
 *
 * The stub names the module by where it lives: the project's own files, by a
 * path from the directory the program and the provider process run in
 * (`../dist/components/x.js`; a `.ts` source is loaded through ts-node), or
 * beside the entry point of the package the program depends on
 * (`app-databases` -> `dist/components/x.js`). No absolute path is stored.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";

/** Where the provider process finds a module: a project-relative path, or a file beside a package's entry point. */
export type ModuleRef = { readonly project: string } | { readonly package: string; readonly file: string };

/**
 * How a module file of this package is found again from `cwd`, the directory
 * the program and the provider process both run in (Pulumi's `main` dir).
 */
export function moduleRef(file: string, cwd: string = process.cwd()): ModuleRef {
    let root = path.dirname(file);
    while (!fs.existsSync(path.join(root, "package.json"))) {
        const up = path.dirname(root);
        if (up === root) throw new Error(`no package.json above ${file}`);
        root = up;
    }
    const fromRoot = path.relative(root, path.resolve(cwd));
    // The program's own project (cwd is the project or a folder in it): a path from cwd.
    if (!fromRoot.startsWith("..") && !path.isAbsolute(fromRoot)) {
        return { project: path.relative(cwd, file).split(path.sep).join("/") };
    }
    const { name } = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { name: string };
    return { package: name, file: path.basename(file) };
}

/**
 * A provider whose methods are those of `provider` (exported as `exportName`
 * from the module `file`, i.e. the caller's `__filename`), each loading it on
 * first use in the provider process.
 */
export function providerStub<I, O>(
    file: string,
    exportName: string,
    provider: pulumi.dynamic.ResourceProvider<I, O>,
): pulumi.dynamic.ResourceProvider<I, O> {
    const ref = moduleRef(file);
    // Runs in the provider process: only what it captures (ref, exportName, method) is serialized.
    const load = (): Record<string, (...args: unknown[]) => unknown> => {
        /* eslint-disable @typescript-eslint/no-require-imports */
        const nodePath = require("path") as typeof import("path");
        const cwd = process.cwd();
        let target: string;
        if ("project" in ref) {
            target = nodePath.resolve(cwd, ref.project);
            const flag = Symbol.for("app-databases.ts-node");
            const registry = globalThis as unknown as Record<symbol, boolean>;
            if (target.endsWith(".ts") && !registry[flag]) {
                const tsNode = require(require.resolve("ts-node", { paths: [cwd] })) as typeof import("ts-node");
                tsNode.register({ transpileOnly: true, compilerOptions: { module: "commonjs" } });
                registry[flag] = true;
            }
        } else {
            target = nodePath.join(nodePath.dirname(require.resolve(ref.package, { paths: [cwd] })), ref.file);
        }
        const loaded = require(target) as Record<string, Record<string, (...args: unknown[]) => unknown>>;
        return loaded[exportName];
        /* eslint-enable @typescript-eslint/no-require-imports */
    };
    const stub: Record<string, (...args: unknown[]) => unknown> = {};
    for (const method of Object.keys(provider)) stub[method] = (...args: unknown[]) => load()[method](...args);
    return stub as unknown as pulumi.dynamic.ResourceProvider<I, O>;
}
