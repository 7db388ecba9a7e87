/**
 * The component package from other languages, for real: examples/python,
 * examples/go and examples/yaml, each two AppDatabases on one shared throwaway
 * server through package/pulumi-resource-app-databases, run by the real engine
 * with the toolchain's Python, Go and YAML language hosts. Python and Go get
 * their SDK the way a user does, with scripts/package-add.sh (`pulumi package
 * add`, then the `packages:` entry pointed at the plugin's folder).
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveAppDatabaseArgs } from "../../components/appDatabase";
import type { AccessLevel } from "../../components/defaults";
import { passwordOf, queryUrl, TestCluster, withDatabase } from "../kit/postgres";
import { LanguageStack, pythonVenv, run } from "../kit/languageStack";
import { PROJECT_ROOT } from "../kit/stack";

const PACKAGE_DIR = path.join(PROJECT_ROOT, "package");
const PACKAGE_ADD = path.join(PROJECT_ROOT, "scripts", "package-add.sh");
const APPS = { orders: "orders", reports: "reports" } as const;
/** What the engine runs with besides the toolchain's environment (no update check, no downloads). */
const ENGINE_ENV = { PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" };

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
async function exampleStack(example: Language, cluster: TestCluster): Promise<LanguageStack> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `app-databases-${example}-`));
    const dir = path.join(root, "project");
    const source = path.join(PROJECT_ROOT, "examples", example);
    fs.cpSync(source, dir, { recursive: true, filter: (src) => !/\/(venv|sdks|__pycache__)$/.test(src) });
    if (example === "python") pythonVenv(dir);
    if (example === "yaml") pointAtPackage(dir);
    else addPackage(dir, ENGINE_ENV);
    return await LanguageStack.create({ dir, config: serverConfig(cluster), secrets: { adminPassword: cluster.adminPassword } });
}

/** The examples' server config for a test cluster. */
function serverConfig(cluster: TestCluster): Record<string, string> {
    return { host: "127.0.0.1", port: String(cluster.port), sslmode: "disable", adminUsername: cluster.adminUser, adminSuperuser: "true" };
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

/** Everything a program of either language must have done, checked the same way. */
function checksTwoApps(language: Language, cluster: TestCluster, get: () => LanguageStack) {
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
        const types = get().resourceTypes();
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
function describeExample(language: Language, before?: (cluster: TestCluster, get: () => LanguageStack) => void) {
    describe(`examples/${language} through the component package`, () => {
        const cluster = new TestCluster();
        let example: LanguageStack;

        beforeAll(async () => {
            await cluster.start();
            example = await exampleStack(language, cluster);
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
function refusesUnknownAccessLevel(cluster: TestCluster, get: () => LanguageStack): void {
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

/** From Python the apps are one Fleet: the whole set is checked in one construct, so even an up without a preview applies nothing. */
function fleetRefusesWithoutPreview(cluster: TestCluster, get: () => LanguageStack): void {
    refusesUnknownAccessLevel(cluster, get);

    it("refuses a bad app before anything of the set is registered, even without a preview (the Automation API's up)", async () => {
        await get().stack.setConfig("reportsAccess", { value: "admin" });
        await expect(get().stack.up({ onOutput: () => undefined })).rejects.toThrow(`Fleet: apps.reports: ${typescriptMessage("admin")}`);
        expect(await cluster.catalog()).toEqual({ roles: [], databases: [] });
        // Not even the Fleet's component, nor orders': nothing of the set reached the state.
        expect(
            get()
                .resourceTypes()
                .filter((t) => t.startsWith("app-databases:")),
        ).toEqual([]);
        await get().stack.setConfig("reportsAccess", { value: "readonly" });
    });
}

/** A Python program adopting a database and role that exist, with the role's password kept. */
const ADOPTING_PROGRAM = `import pulumi
import pulumi_app_databases as app_databases

config = pulumi.Config()
server = app_databases.ServerConnectionArgs(
    host=config.require("host"),
    port=config.require_int("port"),
    sslmode=config.require("sslmode"),
    admin_username=config.require("adminUsername"),
    admin_password=config.require_secret("adminPassword"),
    admin_superuser=config.require_bool("adminSuperuser"),
)
legacy_role = app_databases.AdoptedRoleArgs(password=config.require_secret("legacyPassword"))
fleet = app_databases.Fleet(
    "databases",
    servers={"lab": server},
    apps={"legacy": app_databases.FleetAppArgs(adopt=app_databases.AdoptArgs(database=True, roles={"legacy_app": legacy_role}))},
)
pulumi.export("legacyRuntimeUrl", fleet.runtime_urls["legacy"])
`;

describe("adoption from Python (Fleet apps' adopt)", () => {
    const cluster = new TestCluster();
    const legacyPassword = randomBytes(9).toString("hex");
    let program: LanguageStack;

    beforeAll(async () => {
        await cluster.start();
        await cluster.admin(`CREATE ROLE legacy_app LOGIN PASSWORD '${legacyPassword}'`);
        await cluster.admin("CREATE DATABASE legacy");
        await cluster.admin("CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1), (2)", [], "legacy");
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-python-adopt-"));
        const dir = path.join(root, "project");
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, "__main__.py"), ADOPTING_PROGRAM);
        const project = "name: app-databases-python-adopt\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n";
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `${project}packages:\n  app-databases: ${PACKAGE_DIR}\n`);
        pythonVenv(dir);
        addPackage(dir, ENGINE_ENV);
        program = await LanguageStack.create({
            dir,
            config: serverConfig(cluster),
            secrets: { adminPassword: cluster.adminPassword, legacyPassword },
        });
    });

    afterAll(async () => {
        await program?.dispose();
        await cluster.stop();
    });

    it("takes over the database with its data and the role with its password; a preview after shows no change", async () => {
        await program.stack.up({ onOutput: () => undefined });
        const url = (await program.outputs()).legacyRuntimeUrl;
        expect(url.secret).toBe(true);
        expect(passwordOf(url.value)).toBe(legacyPassword);
        expect(await queryUrl(url.value, "SELECT current_user AS u, current_database() AS db")).toEqual([
            { u: "legacy_app", db: "legacy" },
        ]);
        expect(await cluster.admin("SELECT count(*)::int AS n FROM items", [], "legacy")).toEqual([{ n: 2 }]);
        expect(await cluster.admin("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'legacy'")).toEqual([
            { owner: "legacy_migrate" },
        ]);
        const preview = await program.stack.preview({ onOutput: () => undefined });
        expect(Object.keys(preview.changeSummary).filter((k) => k !== "same")).toEqual([]);
    });

    it("keeps the adopted database on destroy", async () => {
        await program.stack.destroy({ onOutput: () => undefined });
        expect((await cluster.catalog()).databases).toContain("legacy");
    });
});

describeExample("python", fleetRefusesWithoutPreview);
describeExample("go", refusesUnknownAccessLevel);
describeExample("yaml");
