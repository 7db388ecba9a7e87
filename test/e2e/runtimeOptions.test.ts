/**
 * The Node.js runtime options of a program's Pulumi.yaml reach the program,
 * through the real engine and the language host this toolchain builds
 * (scripts/toolchain/nodejs-host/upstream.patch). Before that patch the host
 * ignored them and registered ts-node in every program: this project's
 * `typescript: false` (entry.js runs the compiled dist/) paid for loading the
 * TypeScript compiler in every preview and up.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, expect, it } from "vitest";
import { TestStack } from "../kit/stack";

/** A program with no resources that reports how it was started. */
const PROGRAM = `
module.exports = {
    typescriptVariable: process.env.PULUMI_NODEJS_TYPESCRIPT ?? "unset",
    tsNodeRegistered: require.extensions[".ts"] !== undefined,
    execArgv: process.execArgv,
};
`;

const dirs: string[] = [];
const stacks: TestStack[] = [];

/** Outputs of `pulumi up` of PROGRAM under a Pulumi.yaml with these runtime options (YAML lines). */
async function runWith(options: string[]): Promise<Record<string, any>> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-runtime-options-"));
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, "index.js"), PROGRAM);
    const runtime = options.length
        ? `runtime:\n  name: nodejs\n  options:\n${options.map((o) => `    ${o}\n`).join("")}`
        : "runtime: nodejs\n";
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `name: runtime-options\nmain: index.js\n${runtime}`);
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "runtime-options", private: true }));
    const stack = await TestStack.create({ program: { dir, project: "runtime-options" }, config: {} });
    stacks.push(stack);
    await stack.stack.up({ onOutput: () => undefined });
    return stack.outputs();
}

afterAll(async () => {
    for (const stack of stacks) await stack.dispose();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

it("runs a program that says typescript: false without ts-node, with its nodeargs", async () => {
    const out = await runWith(["typescript: false", 'nodeargs: "--max-old-space-size=1536"']);
    expect(out).toMatchObject({ typescriptVariable: "unset", tsNodeRegistered: false });
    expect(out.execArgv).toContain("--max-old-space-size=1536");
});

it("still registers ts-node when the program says typescript: true or leaves it out", async () => {
    expect(await runWith(["typescript: true"])).toMatchObject({ typescriptVariable: "true", tsNodeRegistered: true });
    expect(await runWith([])).toMatchObject({ typescriptVariable: "true", tsNodeRegistered: true, execArgv: [] });
});
