/**
 * The program under test, run with the Pulumi CLI: a copy of the project in a
 * work dir (so stack files never touch the work tree), a file backend and a
 * passphrase, config from a generated JSON-as-YAML stack file with the admin
 * password set as a secret (as test/kit/stack.ts does).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { copyWorkTreeProgram, extractProgramAt } from "../../test/kit/program";
import { AppSpec } from "./catalog";
import { log, PgTarget, REPO_ROOT, run, RunResult } from "./util";

export { PROJECT_FILES } from "../../test/kit/program";
const STACK = "bench";

/** A way of running the program: extra CLI flags and environment, and optionally which version of the program. */
export interface PulumiVariant {
    readonly name: string;
    readonly description: string;
    /** Added to `pulumi up` and `pulumi destroy` (and preview where it applies). */
    readonly args: readonly string[];
    readonly env: Readonly<Record<string, string>>;
    /**
     * Where this variant's program comes from: "worktree" or a git revision, resolved
     * once with resolveSource(); undefined: PulumiProject.source.
     */
    readonly source?: string;
}

/** The name of the variant `--baseline <rev>` adds: the default variant run on the program at that revision. */
export const BASELINE_VARIANT = "before";

/**
 * "worktree", or the revision as a short commit hash: resolved once, so every run
 * measures the same program while others commit (a branch name or HEAD~1 would move).
 */
export async function resolveSource(program: string): Promise<string> {
    if (program === "worktree") return program;
    const r = await run("git", ["-C", REPO_ROOT, "rev-parse", "--verify", "--short", `${program}^{commit}`], { check: false });
    if (r.code !== 0) throw new Error(`not a git revision of ${REPO_ROOT}: ${program} (${r.stderr.trim()})`);
    return r.stdout.trim();
}

/** The tool name of a variant in measurements and tables: `pulumi` (default) or `pulumi:<name>`. */
export const toolName = (v: { readonly name: string }) => (v.name === "default" ? "pulumi" : `pulumi:${v.name}`);

/** "program at 70bfc37", or the work tree. */
export const describeSource = (source: string) => (source === "worktree" ? "program from the work tree" : `program at ${source}`);

export const VARIANTS: Readonly<Record<string, PulumiVariant>> = {
    default: {
        name: "default",
        description: "pulumi up --skip-preview, default --parallel (8), ts-node with type-check",
        args: [],
        env: {},
    },
    p1: { name: "p1", description: "--parallel 1", args: ["--parallel", "1"], env: {} },
    p32: { name: "p32", description: "--parallel 32", args: ["--parallel", "32"], env: {} },
    transpile: {
        name: "transpile",
        description: "PULUMI_NODEJS_TRANSPILE_ONLY=true (ts-node without type-check)",
        args: [],
        env: { PULUMI_NODEJS_TRANSPILE_ONLY: "true" },
    },
    fast: {
        name: "fast",
        description: "--parallel 32 and PULUMI_NODEJS_TRANSPILE_ONLY=true",
        args: ["--parallel", "32"],
        env: { PULUMI_NODEJS_TRANSPILE_ONLY: "true" },
    },
};

export interface ServerSettings {
    readonly maxConnections: number;
    readonly provisioningConnections?: number;
}

export class PulumiProject {
    /** Hang guard for up/preview/destroy: their process group is killed after this many seconds (0: never). */
    static hangGuardSec = 900;
    /**
     * Where the program comes from when the variant does not say (PulumiVariant.source):
     * "worktree" (the files as they are now) or a git revision (`git archive`).
     */
    static source = "worktree";
    readonly projectDir: string;
    readonly stateDir: string;
    readonly passphrase = "bench-passphrase-not-secret";
    readonly logFile: string;

    constructor(
        readonly workDir: string,
        readonly variant: PulumiVariant,
        readonly pg: PgTarget,
        /** Edits applied to the scratch copy (experiments), never to the repo. */
        readonly prepare?: (projectDir: string) => Promise<void> | void,
    ) {
        this.projectDir = path.join(workDir, "project");
        this.stateDir = path.join(workDir, "state");
        this.logFile = path.join(workDir, "pulumi.log");
    }

    env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
        return {
            ...process.env,
            PULUMI_BACKEND_URL: `file://${this.stateDir}`,
            PULUMI_CONFIG_PASSPHRASE: this.passphrase,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            ...this.variant.env,
            ...extra,
        };
    }

    cli(args: readonly string[], opts: { check?: boolean; env?: Record<string, string>; measured?: boolean } = {}): Promise<RunResult> {
        // The stack flags go before a `--`, after which everything is a value.
        const end = args.indexOf("--");
        const argv =
            end < 0
                ? [...args, "--stack", STACK, "--non-interactive"]
                : [...args.slice(0, end), "--stack", STACK, "--non-interactive", ...args.slice(end)];
        return run("pulumi", argv, {
            cwd: this.projectDir,
            env: this.env(opts.env),
            logFile: this.logFile,
            redact: [this.pg.password],
            check: opts.check,
            cpu: opts.measured,
            timeoutSec: opts.measured ? PulumiProject.hangGuardSec : 0,
        });
    }

    /** The program this project runs: the variant's source, else PulumiProject.source. */
    get source(): string {
        return this.variant.source ?? PulumiProject.source;
    }

    async init(): Promise<void> {
        fs.mkdirSync(this.projectDir, { recursive: true });
        fs.mkdirSync(this.stateDir, { recursive: true });
        const source = this.source;
        if (source === "worktree") copyWorkTreeProgram(this.projectDir);
        else extractProgramAt(source, this.projectDir);
        fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(this.projectDir, "node_modules"));
        await this.prepare?.(this.projectDir);
        await run("pulumi", ["stack", "init", STACK, "--non-interactive"], {
            cwd: this.projectDir,
            env: this.env(),
            logFile: this.logFile,
        });
    }

    /** Writes the stack file for these apps on the benchmark server, then sets the admin password as a secret. */
    async configure(apps: readonly AppSpec[], server: ServerSettings): Promise<void> {
        const file = path.join(this.projectDir, `Pulumi.${STACK}.yaml`);
        const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
        const salt = /^encryptionsalt:\s*(\S+)/m.exec(current)?.[1];
        const config = {
            "app-databases:protect": false,
            "app-databases:placement": "shared",
            "app-databases:servers": {
                local: {
                    host: this.pg.host,
                    port: this.pg.port,
                    sslmode: "disable",
                    admin: { username: this.pg.user, superuser: true },
                    maxConnections: server.maxConnections,
                    ...(server.provisioningConnections !== undefined ? { provisioningConnections: server.provisioningConnections } : {}),
                },
            },
            "app-databases:apps": Object.fromEntries(
                apps.map((a) => [
                    a.name,
                    { access: "readwrite", connectionLimit: a.connectionLimit, migrateConnectionLimit: a.migrateConnectionLimit },
                ]),
            ),
        };
        // JSON is YAML.
        fs.writeFileSync(file, JSON.stringify({ ...(salt ? { encryptionsalt: salt } : {}), config }, null, 2));
        // `--`: a generated password may start with "-".
        await this.cli(["config", "set", "--secret", "--path", "servers.local.admin.password", "--", this.pg.password]);
    }

    up(extraArgs: readonly string[] = [], env: Record<string, string> = {}, check = true): Promise<RunResult> {
        return this.cli(["up", "--yes", "--skip-preview", "--suppress-outputs", ...this.variant.args, ...extraArgs], {
            env,
            measured: true,
            check,
        });
    }

    preview(extraArgs: readonly string[] = [], env: Record<string, string> = {}, check = true): Promise<RunResult> {
        return this.cli(["preview", "--json", ...this.variant.args, ...extraArgs], { env, measured: true, check });
    }

    destroy(extraArgs: readonly string[] = [], env: Record<string, string> = {}, check = true): Promise<RunResult> {
        return this.cli(["destroy", "--yes", "--skip-preview", ...this.variant.args, ...extraArgs], { env, measured: true, check });
    }

    /** Resource changes of the last update, from the stack's history. */
    async lastChanges(): Promise<Record<string, number>> {
        const r = await this.cli(["stack", "history", "--json", "--page-size", "1", "--show-secrets=false"]);
        const history = JSON.parse(r.stdout) as Array<{ resourceChanges?: Record<string, number> }>;
        return history[0]?.resourceChanges ?? {};
    }

    /** The resources in state: total, per app (app001's), and the checkpoint size. */
    async stateFacts(): Promise<{
        resources: number;
        perApp: number;
        perAppCustom: number;
        stateBytes: number;
        dynamicProviderBytes: number;
    }> {
        const r = await this.cli(["stack", "export"]);
        const exported = JSON.parse(r.stdout) as {
            deployment: { resources?: Array<{ urn: string; custom?: boolean; inputs?: Record<string, unknown> }> };
        };
        const resources = exported.deployment.resources ?? [];
        const ofApp = resources.filter((res) => /::app001[@-]/.test(res.urn));
        const dyn = resources.find((res) => typeof res.inputs?.__provider === "string");
        return {
            resources: resources.length,
            perApp: ofApp.length,
            perAppCustom: ofApp.filter((res) => res.custom).length,
            stateBytes: Buffer.byteLength(r.stdout),
            dynamicProviderBytes: dyn ? String(dyn.inputs!.__provider).length : 0,
        };
    }

    /** Counts of the preview's change summary (`pulumi preview --json`). */
    static changeSummary(preview: RunResult): Record<string, number> {
        try {
            return (JSON.parse(preview.stdout) as { changeSummary?: Record<string, number> }).changeSummary ?? {};
        } catch {
            log(`could not parse preview JSON (${preview.stdout.slice(0, 200)})`);
            return {};
        }
    }

    cleanup(): void {
        fs.rmSync(this.projectDir, { recursive: true, force: true });
        fs.rmSync(this.stateDir, { recursive: true, force: true });
    }
}
