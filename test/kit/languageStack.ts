/**
 * A Pulumi program of another language (Python, Go, YAML) as a stack of the
 * real engine: a file backend and a passphrase of its own beside the program's
 * folder, the stack's config set as a user sets it, the CLI and the Automation
 * API on it. Used by the component package's tests (languages, release).
 */
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "./program";

export interface LanguageStackOptions {
    /** The program's folder; its parent also holds the state (`<parent>/state`) and is removed by dispose. */
    readonly dir: string;
    /** Plain config values, by key. */
    readonly config: Record<string, string>;
    /** Secret config values, by key. */
    readonly secrets?: Record<string, string>;
    /** More environment for the engine (PULUMI_HOME, ...). */
    readonly env?: Record<string, string>;
}

export class LanguageStack {
    private constructor(
        readonly stack: Stack,
        readonly dir: string,
        readonly env: Record<string, string>,
    ) {}

    static async create(options: LanguageStackOptions): Promise<LanguageStack> {
        const state = path.join(path.dirname(options.dir), "state");
        fs.mkdirSync(state, { recursive: true });
        const env = {
            PULUMI_BACKEND_URL: `file://${state}`,
            PULUMI_CONFIG_PASSPHRASE: randomBytes(12).toString("hex"),
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            ...options.env,
        };
        const ws = await LocalWorkspace.create({ workDir: options.dir, envVars: env });
        const stack = await Stack.create(`e2e-${randomBytes(3).toString("hex")}`, ws);
        for (const [key, value] of Object.entries(options.config)) await stack.setConfig(key, { value });
        for (const [key, value] of Object.entries(options.secrets ?? {})) await stack.setConfig(key, { value, secret: true });
        return new LanguageStack(stack, options.dir, env);
    }

    /** The pulumi CLI on this stack, in the program's folder: its exit status and all it printed. */
    cli(args: string[]): { status: number | null; output: string } {
        const result = spawnSync("pulumi", [...args, "--stack", this.stack.name], {
            cwd: this.dir,
            encoding: "utf8",
            env: { ...process.env, ...this.env },
        });
        return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
    }

    async outputs(): Promise<Record<string, { value: string; secret: boolean }>> {
        return await this.stack.outputs();
    }

    /** The stack's state file as text. */
    stateFile(): string {
        const dir = path.join(this.env.PULUMI_BACKEND_URL.slice("file://".length), ".pulumi", "stacks");
        const project = fs.readdirSync(dir)[0];
        return fs.readFileSync(path.join(dir, project, `${this.stack.name}.json`), "utf8");
    }

    /** The types of the resources in the state, one entry per resource. */
    resourceTypes(): string[] {
        const { checkpoint } = JSON.parse(this.stateFile()) as { checkpoint: { latest?: { resources?: { type: string }[] } } };
        return (checkpoint.latest?.resources ?? []).map((r) => r.type);
    }

    async dispose(): Promise<void> {
        try {
            await this.stack.destroy({ onOutput: () => undefined });
        } catch {
            // the server may already be gone
        }
        fs.rmSync(path.dirname(this.dir), { recursive: true, force: true });
    }
}

/**
 * A fresh virtualenv at `<dir>/venv` that sees the toolchain's Pulumi SDK
 * through a .pth file (no download per run); returns its python.
 */
export function pythonVenv(dir: string): string {
    const venv = path.join(dir, "venv");
    const python = path.join(venv, "bin", "python");
    run("python3", ["-m", "venv", venv], dir);
    const purelib = (py: string) => run(py, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], dir).trim();
    const sdk = path.join(process.env.PULUMI_HOME ?? path.join(PROJECT_ROOT, ".pulumi-home"), "python-sdk", "bin", "python");
    fs.writeFileSync(path.join(purelib(python), "pulumi-sdk.pth"), purelib(sdk) + "\n");
    return python;
}

/** Runs a command; throws with its output when it fails; returns its stdout. */
export function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
    const result = spawnSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, ...env } });
    if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
}
