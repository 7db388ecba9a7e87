/**
 * The server as it really is (issue 12): the budget counts the login roles the
 * server holds, the over-budget table marks what changed since the last up,
 * the access report matches what the server actually lets each role do, and a
 * refreshed preview fails on drift.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccessReport } from "../../components/accessReport";
import type { AccessOutput } from "../../program/keyedOutputs";
import { TestCluster } from "../kit/postgres";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const cluster = new TestCluster({ maxConnections: 60 });
let stack: TestStack;
const PW = "hand-made-role-pw";

/** Roles and a database made by hand on the server, before the program runs. */
const HAND_MADE = [
    `CREATE ROLE ext_bigger LOGIN CONNECTION LIMIT 9 PASSWORD '${PW}'`,
    `CREATE ROLE legacy_unbounded LOGIN PASSWORD '${PW}'`,
    `CREATE ROLE metabase LOGIN CONNECTION LIMIT 3 PASSWORD '${PW}'`,
    `CREATE ROLE backup_agent LOGIN CONNECTION LIMIT 2 PASSWORD '${PW}'`,
    `CREATE ROLE old_super LOGIN SUPERUSER PASSWORD '${PW}'`,
    `CREATE DATABASE legacy_db`, // PUBLIC keeps CONNECT, as CREATE DATABASE leaves it
];

const server = (more: Record<string, unknown> = {}) => ({
    local: {
        host: "127.0.0.1",
        port: cluster.port,
        sslmode: "disable",
        admin: { username: "postgres", superuser: true },
        maxConnections: 60,
        externalRoles: { ext_bigger: 4 },
        ...more,
    },
});
const apps = (shopLimit = 10) => ({ shop: { connectionLimit: shopLimit }, ledger: { connectionLimit: 5 } });
const secrets = () => [{ path: "servers.local.admin.password", value: cluster.adminPassword }];

async function previewFails(config: Record<string, unknown>): Promise<string> {
    await stack.setConfig(config, secrets());
    let output = "";
    await expect(stack.stack.preview({ onOutput: (s) => (output += s) })).rejects.toThrow();
    return output;
}

/** The shell of a user of the test stack: its backend and passphrase. */
const reportEnv = () => ({ ...process.env, PULUMI_BACKEND_URL: `file://${stack.backendDir}`, PULUMI_CONFIG_PASSPHRASE: stack.passphrase });

/**
 * The README's JSON report command (Access report), as written, pointed at the
 * test stack: its stdout must parse as JSON with nothing around it.
 */
function documentedJsonReport() {
    const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
    const line = /^(npm run .*report -- --stack prod --json)\b/m.exec(readme);
    if (!line) throw new Error("README's Access report has no `npm run ... report -- --stack prod --json` line");
    const [command, ...args] = line[1].split(/\s+/).map((word) => (word === "prod" ? stack.stack.name : word));
    return spawnSync(command, [...args, "--cwd", stack.dir], {
        cwd: PROJECT_ROOT,
        encoding: "utf8",
        env: reportEnv(),
    });
}

async function canConnect(user: string, password: string, database: string): Promise<boolean> {
    const client = new Client(cluster.clientConfig(user, password, database));
    try {
        await client.connect();
        await client.query("SELECT 1");
        return true;
    } catch {
        return false;
    } finally {
        await client.end().catch(() => undefined);
    }
}

beforeAll(async () => {
    await cluster.start();
    for (const sql of HAND_MADE) await cluster.admin(sql);
    stack = await TestStack.create({ config: { servers: server(), apps: apps() }, secrets: secrets() });
});

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
});

describe("the budget from the server's login roles", () => {
    it("fails the preflight on a declared external role that does not exist", async () => {
        const output = await previewFails({ servers: server({ externalRoles: { ext_bigger: 4, ext_missing: 3 } }), apps: apps() });
        expect(output).toContain(
            "servers.local.externalRoles.ext_missing: role ext_missing does not exist on server local; create it there, or remove it from externalRoles",
        );
    });

    it("warns on a login role with no CONNECTION LIMIT with unmanagedLoginRoles: warn, and fails with fail, naming it and the fix", async () => {
        await stack.setConfig({ servers: server(), apps: apps() }, secrets());
        let warned = "";
        await stack.stack.preview({ onOutput: (s) => (warned += s) });
        expect(warned).toContain("login role legacy_unbounded on server local has no CONNECTION LIMIT");
        expect(warned).toContain("(servers.local.unmanagedLoginRoles: fail refuses the preview on it)");
        const output = await previewFails({ servers: server({ unmanagedLoginRoles: "fail" }), apps: apps() });
        expect(output).toContain("login role legacy_unbounded on server local has no CONNECTION LIMIT");
        expect(output).toContain(
            "Run ALTER ROLE legacy_unbounded CONNECTION LIMIT n; on the server, or declare it: servers.local.externalRoles.legacy_unbounded: n",
        );
        expect(output).toMatch(/legacy_unbounded\s+unmanaged on server\s+none/);
        await cluster.admin("ALTER ROLE legacy_unbounded CONNECTION LIMIT 2");
    });

    it("fails on undeclared login roles when the server says unmanagedLoginRoles: fail", async () => {
        const output = await previewFails({ servers: server({ unmanagedLoginRoles: "fail" }), apps: apps() });
        expect(output).toContain(
            "server local has login roles the config does not name: backup_agent, legacy_unbounded, metabase. " +
                "Declare them under servers.local.externalRoles, or set servers.local.unmanagedLoginRoles: warn",
        );
    });

    it("counts the larger server limit, lists unmanaged roles and superusers, and applies with a warning", async () => {
        await stack.setConfig({ servers: server(), apps: apps() }, secrets());
        let output = "";
        await stack.stack.up({ onOutput: (s) => (output += s) });
        expect(output).toContain(
            "ext_bigger has CONNECTION LIMIT 9 on the server but servers.local.externalRoles.ext_bigger is 4; the budget counts 9",
        );
        expect(output).toContain("server local has login roles the config does not name: backup_agent, legacy_unbounded, metabase");
        const budget = (await stack.outputs()).budgets.local;
        const entry = (name: string) => budget.entries[name];
        expect(entry("ext_bigger")).toMatchObject({
            kind: "external role",
            connections: 9,
            note: "server limit 9, config 4: counting the larger",
        });
        expect(entry("metabase")).toMatchObject({ kind: "unmanaged on server", connections: 3 });
        expect(entry("old_super")).toMatchObject({ kind: "superuser on server", connections: 0 });
        expect(entry("postgres")).toBeUndefined(); // the admin: counted as the provisioning tool
        // 12 + 7 app roles + 9 + 3 + 2 + 2 unmanaged + 3 tool + 3 reserved + 5 headroom
        expect(budget.total).toBe(46);
    });

    it("a second preview changes nothing, refreshed or not", async () => {
        const preview = await stack.stack.preview({ onOutput: () => undefined });
        expect(Object.keys(preview.changeSummary).filter((k) => k !== "same")).toEqual([]);
        const refreshed = stack.cli("preview", "--refresh", "--expect-no-changes", "--non-interactive");
        expect(refreshed.status, `${refreshed.stdout}\n${refreshed.stderr}`).toBe(0);
    });

    it("marks the row changed since the last up and ends with what to do", async () => {
        const output = await previewFails({ servers: server(), apps: apps(30) });
        console.log(output.slice(output.indexOf("Connection budget")));
        expect(output).toContain("Connection budget for server local: 66 of max_connections 60 (OVER BUDGET by 6)");
        expect(output).toMatch(/~\^ shop_app\s+app role\s+30\s+50\.0%/);
        expect(output).toMatch(/\^\s+ext_bigger\s+external role\s+9/);
        expect(output).toContain(
            "What to do: free 6 connections by lowering shop_app (10 -> 30 since the last up), or raise max_connections of local to at least 66; nothing was applied.",
        );
        // Over budget on the config alone: the table still has the server's own roles.
        const worse = await previewFails({ servers: server(), apps: apps(40) });
        expect(worse).toContain("Connection budget for server local: 76 of max_connections 60 (OVER BUDGET by 16)");
        expect(worse).toMatch(/metabase\s+unmanaged on server\s+3/);
        await stack.setConfig({ servers: server(), apps: apps() }, secrets());
    });
});

describe("the access report", () => {
    let report: AccessReport;
    let urls: Record<string, string>;

    beforeAll(async () => {
        const outputs = await stack.outputs();
        urls = {
            shop_app: outputs.apps.shop.runtimeUrl,
            shop_migrate: outputs.apps.shop.migrateUrl,
            ledger_app: outputs.apps.ledger.runtimeUrl,
            ledger_migrate: outputs.apps.ledger.migrateUrl,
        };
        // Drift made by hand after the up: a grant, and a table the runtime role made in a schema it was granted.
        await cluster.admin("GRANT CONNECT ON DATABASE shop TO metabase");
        const migrate = new Client({ connectionString: urls.shop_migrate });
        await migrate.connect();
        await migrate.query("CREATE SCHEMA work; GRANT USAGE, CREATE ON SCHEMA work TO shop_app");
        await migrate.end();
        const runtime = new Client({ connectionString: urls.shop_app });
        await runtime.connect();
        await runtime.query("CREATE TABLE work.scratch (id int)");
        await runtime.end();

        const result = documentedJsonReport();
        expect(result.status, result.stderr).toBe(0);
        expect(result.stderr).not.toContain("banner");
        [report] = JSON.parse(result.stdout) as AccessReport[];
    });

    it("was a stack output after the up, before the hand-made changes", async () => {
        const access = (await stack.outputs()).access.local as AccessOutput;
        expect(access.publicConnect).toEqual(["legacy_db", "postgres"]);
        expect(access.foreignObjects).toEqual({});
        // PUBLIC still has CONNECT on legacy_db and postgres: every login role may connect there.
        expect(access.canConnect.shop_app).toEqual(["legacy_db", "postgres", "shop"]);
        // Keyed by name: one role more or less is one key in the preview's diff, not a chain of renames.
        expect(access.roles.shop_app).toEqual({
            superuser: false,
            createRole: false,
            createDb: false,
            connectionLimit: 10,
        });
    });

    it("names the superusers and CREATEROLE roles, PUBLIC CONNECT, foreign-owned tables and live connections", () => {
        expect(report.roles.filter((r) => r.superuser).map((r) => r.name)).toEqual(["old_super", "postgres"]);
        expect(report.publicConnect).toEqual(["legacy_db", "postgres"]);
        expect(report.canConnect.metabase).toEqual(["legacy_db", "postgres", "shop"]);
        expect(report.foreignObjects).toEqual([
            { database: "shop", schema: "work", name: "scratch", kind: "table", owner: "shop_app", expectedOwner: "shop_migrate" },
        ]);
        // The report's own admin session is the one live connection.
        expect(report.roles.find((r) => r.name === "postgres")?.liveConnections).toBe(1);
        expect(report.roles.find((r) => r.name === "shop_app")?.liveConnections).toBe(0);
    });

    it("matches what the server lets every role do, tried with real connections", async () => {
        const passwords: Record<string, string> = {
            postgres: cluster.adminPassword,
            ...Object.fromEntries(["ext_bigger", "legacy_unbounded", "metabase", "backup_agent", "old_super"].map((r) => [r, PW])),
            ...Object.fromEntries(Object.entries(urls).map(([r, u]) => [r, decodeURIComponent(new URL(u).password)])),
        };
        expect(report.roles.map((r) => r.name).sort()).toEqual(Object.keys(passwords).sort());
        expect(report.databases).toEqual(["ledger", "legacy_db", "postgres", "shop"]);
        const tried: string[] = [];
        const reported: string[] = [];
        for (const role of Object.keys(passwords).sort()) {
            for (const database of report.databases) {
                if (await canConnect(role, passwords[role], database)) tried.push(`${role}@${database}`);
                if (report.canConnect[role].includes(database)) reported.push(`${role}@${database}`);
            }
        }
        expect(reported).toEqual(tried);
        expect(tried).toContain("metabase@shop");
        expect(tried).not.toContain("shop_app@ledger");
    });

    it("is read again by a preview: its `access` output shows the drift made since the up", () => {
        // A preview reads each database from its start, counted once its lock-down is known (accessReport.ts).
        const result = stack.cli("preview", "--diff", "--non-interactive");
        const output = `${result.stdout}\n${result.stderr}`;
        expect(result.status, output).toBe(0);
        // The stack's output diff, under the stack resource: the table added to foreignObjects, by its name.
        expect(output).toMatch(/~ access\s*:/);
        expect(output).toMatch(/~ foreignObjects\s*: \{\s*\+ "?shop:work\.scratch"?\s*: \{[^}]*\+ owner\s*: "shop_app"/);
    });

    it("prints a table a terminal can show", () => {
        const result = stack.report();
        expect(result.status, result.stderr).toBe(0);
        console.log(result.stdout);
        expect(result.stdout).toContain("Access on server local: 10 login roles x 4 databases");
        expect(result.stdout).toMatch(/old_super\s+SUPERUSER\s+0\/none/);
        expect(result.stdout).toContain("PUBLIC still has CONNECT on: legacy_db, postgres");
        expect(result.stdout).toContain("shop: table work.scratch is owned by shop_app, not shop_migrate");
    });
});

describe("drift", () => {
    it("a refreshed preview with --expect-no-changes fails and names what drifted", () => {
        const result = stack.cli("preview", "--refresh", "--expect-no-changes", "--diff", "--non-interactive");
        const output = `${result.stdout}\n${result.stderr}`;
        console.log(output.slice(output.indexOf("Previewing update")));
        expect(result.status, output).not.toBe(0);
        expect(output).toContain("shop@local-access");
        expect(output).toMatch(/no changes were expected/);
    });
});
