/**
 * Runs the real program through the Automation API: a copy of the project in
 * a temp dir (so stack files never touch the work tree), a file state backend,
 * a passphrase secrets provider, and the toolchain built by scripts/toolchain.sh.
 */
import { LocalWorkspace, OutputMap, Stack } from "@pulumi/pulumi/automation";
import { spawnSync, SpawnSyncReturns } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { copyWorkTreeProgram, PROJECT_ROOT } from "./program";

export { PROJECT_ROOT } from "./program";

export interface SecretSetting {
    /** Config path, e.g. `servers.local.admin.password`. */
    readonly path: string;
    readonly value: string;
}

export interface TestStackOptions {
    /** Plain config under the project namespace (`servers`, `apps`, `protect`, ...). */
    readonly config: Record<string, unknown>;
    /** Secrets set the way users set them: `pulumi config set --secret --path`. */
    readonly secrets?: readonly SecretSetting[];
    /** Stack name. @default "e2e-<random>" */
    readonly stackName?: string;
    /**
     * Run another program instead of this project: its directory is copied and
     * given a node_modules where `app-databases` is this package (as an npm
     * install of it would be) next to this project's dependencies.
     */
    readonly program?: {
        readonly dir: string;
        readonly project: string;
        /** Install its own dependencies with `npm install` (as a user of a release does) instead. */
        readonly npmInstall?: boolean;
    };
}

export class TestStack {
    private constructor(
        readonly stack: Stack,
        /** The project copy the stack runs from. */
        readonly dir: string,
        readonly backendDir: string,
        readonly passphrase: string,
        /** The Pulumi project name, which is also the config namespace. */
        readonly project: string,
    ) {}

    static async create(options: TestStackOptions): Promise<TestStack> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-stack-"));
        const projectDir = path.join(dir, "project");
        const backendDir = path.join(dir, "state");
        fs.mkdirSync(backendDir);
        if (!options.program) {
            fs.mkdirSync(projectDir);
            copyWorkTreeProgram(projectDir);
            fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(projectDir, "node_modules"));
        } else {
            fs.cpSync(options.program.dir, projectDir, { recursive: true });
            if (options.program.npmInstall) {
                const install = spawnSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], {
                    cwd: projectDir,
                    encoding: "utf8",
                });
                if (install.status !== 0) throw new Error(`npm install in ${projectDir} failed: ${install.stderr}`);
            } else {
                const modules = path.join(projectDir, "node_modules");
                fs.mkdirSync(modules);
                for (const entry of fs.readdirSync(path.join(PROJECT_ROOT, "node_modules"))) {
                    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules", entry), path.join(modules, entry));
                }
                fs.symlinkSync(PROJECT_ROOT, path.join(modules, "app-databases"));
            }
        }

        const passphrase = randomBytes(12).toString("hex");
        const stackName = options.stackName ?? `e2e-${randomBytes(3).toString("hex")}`;
        const ws = await LocalWorkspace.create({
            workDir: projectDir,
            envVars: {
                PULUMI_BACKEND_URL: `file://${backendDir}`,
                PULUMI_CONFIG_PASSPHRASE: passphrase,
                PULUMI_SKIP_UPDATE_CHECK: "true",
                PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
                // scripts/test.sh type-checks with tsc before the tests, as the workflows do
                // before Pulumi: ts-node need not type-check again on every command.
                PULUMI_NODEJS_TRANSPILE_ONLY: "true",
            },
        });
        const stack = await Stack.create(stackName, ws);
        const t = new TestStack(stack, projectDir, backendDir, passphrase, options.program?.project ?? "app-databases");
        await t.setConfig(options.config, options.secrets ?? []);
        return t;
    }

    /** Rewrites the stack's plain config, then sets each secret by path. */
    async setConfig(config: Record<string, unknown>, secrets: readonly SecretSetting[] = []): Promise<void> {
        const file = path.join(this.dir, `Pulumi.${this.stack.name}.yaml`);
        const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
        const salt = /^encryptionsalt:\s*(\S+)/m.exec(current)?.[1];
        const namespaced = Object.fromEntries(Object.entries(config).map(([k, v]) => [`${this.project}:${k}`, v]));
        // JSON is YAML: no YAML library needed to write the stack file.
        fs.writeFileSync(file, JSON.stringify({ ...(salt ? { encryptionsalt: salt } : {}), config: namespaced }, null, 2));
        for (const secret of secrets) {
            await this.stack.setConfig(`${this.project}:${secret.path}`, { value: secret.value, secret: true }, true);
        }
    }

    /** Runs the pulumi CLI on this stack, for what the Automation API does not offer. */
    cli(...args: string[]): SpawnSyncReturns<string> {
        return this.run("pulumi", [...args, "--stack", this.stack.name]);
    }

    /**
     * The changes a preview after a refresh would make, as "op name" (same and
     * providers aside); throws with the CLI's output when the preview fails.
     */
    refreshedPlan(): string[] {
        const preview = this.cli("preview", "--refresh", "--json", "--non-interactive");
        if (preview.status !== 0) throw new Error(`pulumi preview --refresh failed (${preview.status}): ${preview.stderr}`);
        return ((JSON.parse(preview.stdout) as { steps?: { op: string; urn: string }[] }).steps ?? [])
            .filter((step) => !["same", "refresh"].includes(step.op) && !step.urn.includes("pulumi:providers:"))
            .map((step) => `${step.op} ${step.urn.split("::").pop()}`);
    }

    /** Runs a bash script as a user would in a shell, in this stack's project with its backend (README commands run as written). */
    shell(script: string, env: Record<string, string> = {}): SpawnSyncReturns<string> {
        return this.run("bash", ["-euo", "pipefail", "-c", script], env);
    }

    /** Runs one of the repository's scripts/ as a user would, in this stack's project with its backend. */
    script(file: string, ...args: string[]): SpawnSyncReturns<string> {
        return this.run("bash", [path.join(PROJECT_ROOT, "scripts", file), "--stack", this.stack.name, ...args]);
    }

    /** The report command (scripts/report.ts), run as a user would against this stack. */
    report(...args: string[]): SpawnSyncReturns<string> {
        return spawnSync(
            "npx",
            [
                "ts-node",
                "--transpile-only",
                path.join(PROJECT_ROOT, "scripts", "report.ts"),
                "--stack",
                this.stack.name,
                "--cwd",
                this.dir,
                ...args,
            ],
            {
                cwd: PROJECT_ROOT,
                encoding: "utf8",
                env: { ...process.env, PULUMI_BACKEND_URL: `file://${this.backendDir}`, PULUMI_CONFIG_PASSPHRASE: this.passphrase },
            },
        );
    }

    private run(command: string, args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
        return spawnSync(command, args, {
            cwd: this.dir,
            encoding: "utf8",
            env: {
                ...process.env,
                ...env,
                PULUMI_BACKEND_URL: `file://${this.backendDir}`,
                PULUMI_CONFIG_PASSPHRASE: this.passphrase,
                PULUMI_NODEJS_TRANSPILE_ONLY: "true",
            },
        });
    }

    /** Runs a preview or an up and resolves to what it printed; rejects with that text when it fails. */
    async printed(op: "preview" | "up"): Promise<string> {
        let out = "";
        const onOutput = (s: string) => (out += s);
        try {
            await (op === "up" ? this.stack.up({ onOutput }) : this.stack.preview({ onOutput }));
        } catch (err) {
            throw new Error(`${op} failed:\n${out}\n${(err as Error).message}`);
        }
        return out;
    }

    /** The stack's outputs, secrets decrypted, as plain values. */
    async outputs(): Promise<Record<string, any>> {
        const out: OutputMap = await this.stack.outputs();
        return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.value]));
    }

    /** The raw state file of the stack. */
    stateFile(): string {
        const stacksDir = path.join(this.backendDir, ".pulumi", "stacks");
        const found: string[] = [];
        const walk = (d: string) => {
            for (const e of fs.readdirSync(d, { withFileTypes: true })) {
                const p = path.join(d, e.name);
                if (e.isDirectory()) walk(p);
                else if (e.name === `${this.stack.name}.json`) found.push(p);
            }
        };
        walk(stacksDir);
        if (found.length !== 1) throw new Error(`expected one state file for ${this.stack.name}, found ${found.length}`);
        return fs.readFileSync(found[0], "utf8");
    }

    /** Destroys what is left and deletes the temp dirs. */
    async dispose(): Promise<void> {
        try {
            await this.stack.destroy({ onOutput: () => undefined });
        } catch {
            // the server may already be gone
        }
        fs.rmSync(path.dirname(this.dir), { recursive: true, force: true });
    }
}
