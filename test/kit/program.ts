/**
 * The stack program's files, copied from the work tree or taken from git
 * history, for the end-to-end tests and the benchmark.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** The repository root. */
export const PROJECT_ROOT = path.resolve(__dirname, "../..");

/**
 * The files and folders that make up the stack program (program/ exists from the
 * library/program split on; entry.js and `dist`, the build it runs, from the compiled program on).
 */
export const PROJECT_FILES = [
    "Pulumi.yaml",
    "package.json",
    "tsconfig.json",
    "tsconfig.build.json",
    "entry.js",
    "index.ts",
    "components",
    "program",
    "dist",
];

/** Copies the work tree's program into `dir`, replacing whatever program files it held. */
export function copyWorkTreeProgram(dir: string): void {
    for (const entry of PROJECT_FILES) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
    for (const entry of PROJECT_FILES) {
        if (fs.existsSync(path.join(PROJECT_ROOT, entry))) {
            // Times kept: entry.js rebuilds dist when a source is newer than it.
            fs.cpSync(path.join(PROJECT_ROOT, entry), path.join(dir, entry), { recursive: true, preserveTimestamps: true });
        }
    }
}

/** Writes the program as it was at `revision` (from git history) into `dir`. */
export function extractProgramAt(revision: string, dir: string): void {
    if (!/^[\w./~^@-]+$/.test(revision)) throw new Error(`not a git revision: ${revision}`);
    const git = (...args: string[]) => execFileSync("git", ["-C", PROJECT_ROOT, ...args], { maxBuffer: 256 * 2 ** 20 });
    try {
        const present = PROJECT_FILES.filter((entry) => git("ls-tree", "--name-only", revision, entry).toString().trim() !== "");
        execFileSync("tar", ["-x", "-C", dir], { input: git("archive", "--format=tar", revision, ...present) });
    } catch (err) {
        throw new Error(
            `cannot take the program at ${revision} from git history (a shallow clone? \`git fetch --unshallow\`): ${(err as Error).message}`,
        );
    }
}
