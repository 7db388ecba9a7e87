/**
 * What a dynamic resource stores as its provider: one line of code that loads
 * the real provider from this package's files when the engine calls it.
 *
 * Pulumi serializes a dynamic provider by capturing everything its functions
 * call: 29 KB of code for DatabaseAccess, stored twice per resource (inputs
 * and outputs), two thirds of a 50-app stack's state, which the engine
 * rewrites after every step. The line is about 120 bytes. It also means one
 * copy of adminConnection.ts in the provider process, so every dynamic
 * resource shares its one-session gate (each serialized closure had a gate of
 * its own).
 *
 * The line names the module by where it lives: the project's own files, by a
 * path from the directory the program and the provider process run in
 * (`../dist/components/x.js`; a `.ts` source is loaded through ts-node), or
 * beside the entry point of the package the program depends on
 * (`app-databases` -> `dist/components/x.js`). No absolute path is stored.
 */
import * as fs from "node:fs";
import * as path from "node:path";

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
 * The module text a dynamic resource stores as its `__provider`. Pulumi's
 * nodejs dynamic provider compiles it (require-from-string, in the directory
 * the program runs in) and calls `exports.handler()` for the provider object.
 * This one requires the module `file` (the caller's `__filename`) and returns
 * its export `exportName`, so the state holds a line of code, not the
 * closure Pulumi would serialize (2.7 KB for the earlier lazy-loading stub,
 * stored in inputs and outputs of every resource).
 */
export function providerModule(file: string, exportName: string, cwd: string = process.cwd()): string {
    const ref = moduleRef(file, cwd);
    const name = JSON.stringify(exportName);
    if ("package" in ref) {
        const entry = `require.resolve(${JSON.stringify(ref.package)}, { paths: [process.cwd()] })`;
        return `exports.handler = () => require(require("path").join(require("path").dirname(${entry}), ${JSON.stringify(ref.file)}))[${name}];\n`;
    }
    const target = `require("path").resolve(${JSON.stringify(ref.project)})`;
    if (!ref.project.endsWith(".ts")) return `exports.handler = () => require(${target})[${name}];\n`;
    // A program run from its TypeScript sources: ts-node, registered once per process, compiles the module.
    return [
        "exports.handler = () => {",
        '    const flag = Symbol.for("app-databases.ts-node");',
        "    if (!globalThis[flag]) {",
        '        require(require.resolve("ts-node", { paths: [process.cwd()] })).register({ transpileOnly: true, compilerOptions: { module: "commonjs" } });',
        "        globalThis[flag] = true;",
        "    }",
        `    return require(${target})[${name}];`,
        "};",
        "",
    ].join("\n");
}
