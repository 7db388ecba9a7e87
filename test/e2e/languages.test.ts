/**
 * The component package from other languages, for real: examples/python,
 * examples/go and examples/yaml, each two AppDatabases on one shared throwaway
 * server through package/pulumi-resource-app-databases, run by the real engine
 * with the toolchain's Python, Go and YAML language hosts. Python and Go get
 * their SDK the way a user does, with scripts/package-add.sh (`pulumi package
 * add`, then the `packages:` entry pointed at the plugin's folder).
 */
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveAppDatabaseArgs } from "../../components/appDatabase";
import type { AccessLevel } from "../../components/defaults";
import { passwordOf, queryUrl, TestCluster, withDatabase } from "../kit/postgres";
import { PROJECT_ROOT } from "../kit/stack";

const PACKAGE_DIR = path.join(PROJECT_ROOT, "package");
const PACKAGE_ADD = path.join(PROJECT_ROOT, "scripts", "package-add.sh");
const APPS = { orders: "orders", reports: "reports" } as const;

type Language = "python" | "go" | "yaml";

/** The TypeScript message for an unknown access level, from the library itself. */
function typescriptMessage(access: string): string {
    try {
        resolveAppDatabaseArgs({ app: "reports", server: {} as never, access: access as AccessLevel });
    } catch (err) {
        return (err as Error).message;
    }
    throw new Error(`access ${access} was accepted`);
}

/** One example as a stack: a temp copy of its folder, the package's folder by absolute path, a file backend. */
class ExampleStack {
    private constructor(
        readonly stack: Stack,
        readonly dir: string,
        private readonly env: Record<string, string>,
    ) {}

    static async create(example: Language, cluster: TestCluster): Promise<ExampleStack> {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), `app-databases-${example}-`));
        const dir = path.join(root, "project");
        const source = path.join(PROJECT_ROOT, "examples", example);
        fs.cpSync(source, dir, { recursive: true, filter: (src) => !/\/(venv|sdks|__pycache__)$/.test(src) });
        fs.mkdirSync(path.join(root, "state"));
        const env = {
            PULUMI_BACKEND_URL: `file://${path.join(root, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: randomBytes(12).toString("hex"),
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        };
        if (example === "python") preparePython(dir);
        if (example === "yaml") pointAtPackage(dir);
        else addPackage(dir, env);
        const ws = await LocalWorkspace.create({ workDir: dir, envVars: env });
        const stack = await Stack.create(`e2e-${randomBytes(3).toString("hex")}`, ws);
        for (const [key, value] of Object.entries({
            host: "127.0.0.1",
            port: String(cluster.port),
            sslmode: "disable",
            adminUsername: cluster.adminUser,
            adminSuperuser: "true",
        }))
            await stack.setConfig(key, { value });
        await stack.setConfig("adminPassword", { value: cluster.adminPassword, secret: true });
        return new ExampleStack(stack, dir, env);
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

    stateFile(): string {
        const dir = path.join(this.env.PULUMI_BACKEND_URL.slice("file://".length), ".pulumi", "stacks");
        const project = fs.readdirSync(dir)[0];
        return fs.readFileSync(path.join(dir, project, `${this.stack.name}.json`), "utf8");
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
 * The program's virtualenv sees the toolchain's Pulumi SDK through a .pth
 * file (no download per run), where `pulumi package add` installs the SDK.
 */
function preparePython(dir: string): void {
    const venv = path.join(dir, "venv");
    run("python3", ["-m", "venv", venv], dir);
    const purelib = (python: string) => run(python, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], dir).trim();
    const sdk = path.join(process.env.PULUMI_HOME ?? path.join(PROJECT_ROOT, ".pulumi-home"), "python-sdk", "bin", "python");
    fs.writeFileSync(path.join(purelib(path.join(venv, "bin", "python")), "pulumi-sdk.pth"), purelib(sdk) + "\n");
}

/**
 * What a user runs: scripts/package-add.sh generates and links the SDK
 * (requirements.txt and the virtualenv, or go.mod) with `pulumi package add`
 * and leaves `packages: app-databases:` naming the plugin's folder, which a
 * bare package add would have replaced with app-databases@<version>.
 */
function addPackage(dir: string, env: Record<string, string>): void {
    run("bash", [PACKAGE_ADD, dir], dir, env);
    const project = fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8");
    expect(project).toContain(`\npackages:\n  app-databases: ${PACKAGE_DIR}\n`);
    expect(fs.existsSync(path.join(dir, "sdks", "app-databases"))).toBe(true);
}

/** `packages: app-databases:` names the plugin's folder (YAML needs no SDK: no package add). */
function pointAtPackage(dir: string): void {
    const file = path.join(dir, "Pulumi.yaml");
    const text = fs.readFileSync(file, "utf8");
    const pointed = text.replace(/^( {2}app-databases:).*$/m, `$1 ${PACKAGE_DIR}`);
    if (pointed === text && !text.includes(PACKAGE_DIR)) throw new Error(`no packages.app-databases entry in ${file}`);
    fs.writeFileSync(file, pointed);
}

/** Runs a command; throws with its output when it fails. */
function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
    const result = spawnSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, ...env } });
    if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
}

/** Everything a program of either language must have done, checked the same way. */
function checksTwoApps(language: Language, cluster: TestCluster, get: () => ExampleStack) {
    let out: Record<string, { value: string; secret: boolean }>;

    it("comes up: each app's two roles and database on the server", async () => {
        await get().stack.up({ onOutput: () => undefined });
        out = await get().outputs();
        expect(await cluster.catalog()).toEqual({
            roles: ["orders_app", "orders_migrate", "reports_app", "reports_migrate"],
            databases: ["orders", "reports"],
        });
        expect(out.ordersRuntimeUser).toEqual({ value: "orders_app", secret: false });
        expect(out.reportsRuntimeUser).toEqual({ value: "reports_app", secret: false });
    });

    it("outputs runtime URLs that are secret and log in as the runtime role", async () => {
        expect(out.ordersRuntimeUrl.secret).toBe(true);
        expect(out.reportsRuntimeUrl.secret).toBe(true);
        expect(await queryUrl(out.ordersRuntimeUrl.value, "SELECT current_user AS u, current_database() AS db")).toEqual([
            { u: "orders_app", db: "orders" },
        ]);
        expect(await queryUrl(out.reportsRuntimeUrl.value, "SELECT current_user AS u, current_database() AS db")).toEqual([
            { u: "reports_app", db: "reports" },
        ]);
    });

    it("locks CONNECT down: each runtime role reaches its own database and no other", async () => {
        await expect(queryUrl(withDatabase(out.ordersRuntimeUrl.value, "reports"), "SELECT 1")).rejects.toThrow(
            /permission denied for database "?reports"?/,
        );
        await expect(queryUrl(withDatabase(out.reportsRuntimeUrl.value, "orders"), "SELECT 1")).rejects.toThrow(
            /permission denied for database "?orders"?/,
        );
        const acl = await cluster.admin<{ datname: string; acl: string }>(
            "SELECT datname, datacl::text AS acl FROM pg_database WHERE datname = ANY($1) ORDER BY 1",
            [Object.values(APPS)],
        );
        // No PUBLIC entry (`=c/...`): only the app's own roles.
        for (const row of acl) expect(row.acl).not.toMatch(/[{,]=/);
    });

    it("keeps the passwords out of the state file", () => {
        const state = get().stateFile();
        for (const pw of [passwordOf(out.ordersRuntimeUrl.value), passwordOf(out.reportsRuntimeUrl.value), cluster.adminPassword]) {
            expect(state.includes(pw), `a password in the ${language} program's state file`).toBe(false);
        }
    });

    it("reaches the server through one SharedServer and one postgresql provider for both apps", () => {
        const { checkpoint } = JSON.parse(get().stateFile()) as { checkpoint: { latest: { resources: { type: string }[] } } };
        const types = checkpoint.latest.resources.map((r) => r.type);
        expect(types.filter((t) => t === "app-databases:index:SharedServer")).toHaveLength(1);
        expect(types.filter((t) => t === "pulumi:providers:postgresql")).toHaveLength(1);
    });

    it("previews no change after the up", async () => {
        const preview = await get().stack.preview({ onOutput: () => undefined });
        expect(Object.keys(preview.changeSummary).filter((k) => k !== "same")).toEqual([]);
    });

    it("destroys what it made", async () => {
        await get().stack.destroy({ onOutput: () => undefined });
        expect(await cluster.catalog()).toEqual({ roles: [], databases: [] });
    });
}

/** One example against its own throwaway cluster; `before` runs ahead of the shared checks. */
function describeExample(language: Language, before?: (cluster: TestCluster, get: () => ExampleStack) => void) {
    describe(`examples/${language} through the component package`, () => {
        const cluster = new TestCluster();
        let example: ExampleStack;

        beforeAll(async () => {
            await cluster.start();
            example = await ExampleStack.create(language, cluster);
        });

        afterAll(async () => {
            await example?.dispose();
            await cluster.stop();
        });

        before?.(cluster, () => example);
        checksTwoApps(language, cluster, () => example);
    });
}

/** A bad arg from the program's language fails with the TypeScript message; nothing of that app is applied. */
function refusesUnknownAccessLevel(cluster: TestCluster, get: () => ExampleStack): void {
    it("refuses an unknown access level with the TypeScript message; a plain `pulumi up --yes` applies nothing, not even the valid app before it", async () => {
        await get().stack.setConfig("reportsAccess", { value: "admin" });
        // The CLI as a user runs it: the preview comes first and fails, so the update never starts.
        // (The Automation API's up skips that preview: orders' construct may then begin before the failure.)
        const up = get().cli(["up", "--yes"]);
        expect(up.status).not.toBe(0);
        expect(up.output).toContain(typescriptMessage("admin"));
        expect(typescriptMessage("admin")).toBe('AppDatabase: `access` must be one of readwrite, readonly, migrations, got "admin"');
        expect(await cluster.catalog()).toEqual({ roles: [], databases: [] });
        await get().stack.setConfig("reportsAccess", { value: "readonly" });
    });
}

describeExample("python", refusesUnknownAccessLevel);
describeExample("go", refusesUnknownAccessLevel);
describeExample("yaml");
