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
import { Login } from "./checks";
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
     * `pulumi up --yes` and `pulumi destroy --yes` with their preview first, as a person runs them.
     * @default false: `--skip-preview` (the explore scenarios' way; they add `--skip-preview=false` themselves)
     */
    readonly preview?: boolean;
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
        description: "plain `pulumi up --yes` / `pulumi destroy --yes` (preview included, as users run them), default --parallel (8)",
        args: [],
        env: {},
        preview: true,
    },
    "skip-preview": {
        name: "skip-preview",
        description: "`pulumi up --yes --skip-preview` / `pulumi destroy --yes --skip-preview` (the headline before issue 14)",
        args: [],
        env: {},
        preview: false,
    },
    p1: { name: "p1", description: "--parallel 1", args: ["--parallel", "1"], env: {}, preview: true },
    p32: { name: "p32", description: "--parallel 32", args: ["--parallel", "32"], env: {}, preview: true },
    transpile: {
        name: "transpile",
        description: "PULUMI_NODEJS_TRANSPILE_ONLY=true (ts-node without type-check)",
        args: [],
        env: { PULUMI_NODEJS_TRANSPILE_ONLY: "true" },
        preview: true,
    },
    gomem: {
        name: "gomem",
        description: "GOMEMLIMIT=256MiB: the engine and Go providers collect garbage before their heap grows past it",
        args: [],
        env: { GOMEMLIMIT: "256MiB" },
        preview: true,
    },
    lowmem: {
        name: "lowmem",
        description: "GOMEMLIMIT=256MiB and NODE_OPTIONS=--max-old-space-size=256 (the program's V8 heap too)",
        args: [],
        env: { GOMEMLIMIT: "256MiB", NODE_OPTIONS: "--max-old-space-size=256" },
        preview: true,
    },
    fast: {
        name: "fast",
        description: "--parallel 32 and PULUMI_NODEJS_TRANSPILE_ONLY=true",
        args: ["--parallel", "32"],
        env: { PULUMI_NODEJS_TRANSPILE_ONLY: "true" },
        preview: true,
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

    /** Puts the program into projectDir: the work tree's or a revision's files. */
    protected copyProgram(): void {
        const source = this.source;
        if (source === "worktree") copyWorkTreeProgram(this.projectDir);
        else extractProgramAt(source, this.projectDir);
    }

    async init(): Promise<void> {
        fs.mkdirSync(this.projectDir, { recursive: true });
        fs.mkdirSync(this.stateDir, { recursive: true });
        this.copyProgram();
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

    /** `--skip-preview` unless the variant runs the preview (PulumiVariant.preview). */
    private get skipPreview(): string[] {
        return this.variant.preview ? [] : ["--skip-preview"];
    }

    up(extraArgs: readonly string[] = [], env: Record<string, string> = {}, check = true): Promise<RunResult> {
        return this.cli(["up", "--yes", ...this.skipPreview, "--suppress-outputs", ...this.variant.args, ...extraArgs], {
            env,
            measured: true,
            check,
        });
    }

    preview(extraArgs: readonly string[] = [], env: Record<string, string> = {}, check = true): Promise<RunResult> {
        return this.cli(["preview", "--json", ...this.variant.args, ...extraArgs], { env, measured: true, check });
    }

    destroy(extraArgs: readonly string[] = [], env: Record<string, string> = {}, check = true): Promise<RunResult> {
        return this.cli(["destroy", "--yes", ...this.skipPreview, ...this.variant.args, ...extraArgs], { env, measured: true, check });
    }

    /** Resource changes of the last update, from the stack's history. */
    async lastChanges(): Promise<Record<string, number>> {
        const r = await this.cli(["stack", "history", "--json", "--page-size", "1", "--show-secrets=false"]);
        const history = JSON.parse(r.stdout) as Array<{ resourceChanges?: Record<string, number> }>;
        return history[0]?.resourceChanges ?? {};
    }

    /**
     * Every login role the stack exports with its password (`apps.<app>.runtimeUrl` and `migrateUrl`,
     * secrets), read with `--show-secrets` and never written to the log.
     */
    async logins(): Promise<Login[]> {
        const r = await run("pulumi", ["stack", "output", "apps", "--show-secrets", "--json", "--stack", STACK, "--non-interactive"], {
            cwd: this.projectDir,
            env: this.env(),
            check: false,
        });
        if (r.code !== 0) throw new Error(`pulumi stack output apps exited ${r.code}: ${r.stderr.trim().slice(0, 500)}`);
        const apps = JSON.parse(r.stdout) as Record<string, { runtimeUrl?: string; migrateUrl?: string }>;
        const logins: Login[] = [];
        for (const [app, out] of Object.entries(apps)) {
            for (const [kind, url] of Object.entries({ runtimeUrl: out.runtimeUrl, migrateUrl: out.migrateUrl })) {
                if (!url) {
                    logins.push({ app, role: `(${app}: no ${kind} in the stack outputs)`, password: "", database: app });
                    continue;
                }
                const u = new URL(url);
                logins.push({
                    app,
                    role: decodeURIComponent(u.username),
                    password: decodeURIComponent(u.password),
                    database: decodeURIComponent(u.pathname.replace(/^\//, "")),
                });
            }
        }
        return logins;
    }

    /** The sessions the stack's budget reserves for the provisioning tool (`budgets.<server>`, entry of kind `provisioning`). */
    async reservedPool(): Promise<number | undefined> {
        const r = await this.cli(["stack", "output", "budgets", "--json"], { check: false });
        if (r.code !== 0) return undefined;
        type Entry = { kind: string; connections: number };
        // Entries by name (this version) or a list (a baseline before it).
        const budgets = JSON.parse(r.stdout) as Record<string, { entries?: Entry[] | Record<string, Entry> }>;
        const entries = Object.values(budgets).flatMap((b) => (Array.isArray(b.entries) ? b.entries : Object.values(b.entries ?? {})));
        return entries.find((e) => e.kind === "provisioning")?.connections;
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
        const ofApp = resources.filter((res) => /::app001($|[@-])/.test(res.urn));
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
