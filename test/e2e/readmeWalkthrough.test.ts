/**
 * README's "Walkthrough: six services off `postgres`, one at a time", run as
 * written: its YAML is read out of README.md and becomes the stack file of a
 * stack named `prod` (only the server's address is this machine's: host,
 * port, and sslmode disable for the test cluster), its shell lines run in a
 * shell with the stack's backend (`pulumi up` answered with --yes, as a user
 * types yes), against a real server seeded as the walkthrough describes
 * (test/kit/brownfieldSeed.ts). Then every claim of step 2 is checked with the
 * URLs the walkthrough's own commands print. If README changes, this test
 * runs the new text.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { load } from "js-yaml";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PW, SEED_FLEET, SEED_SERVER, SEED_TRACKSOLID } from "../kit/brownfieldSeed";
import { TestCluster } from "../kit/postgres";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const HEADING = "#### Walkthrough: six services off `postgres`, one at a time";

/** The walkthrough's fenced blocks, in order, with the list item's indentation removed. */
function walkthroughBlocks(): { lang: string; body: string }[] {
    const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
    const start = readme.indexOf(HEADING);
    if (start < 0) throw new Error(`README.md has no section "${HEADING}"`);
    const end = readme.indexOf("\n### ", start);
    const section = readme.slice(start, end < 0 ? undefined : end);
    return [...section.matchAll(/^( *)```(\w+)\n([\s\S]*?)^ *```/gm)].map((m) => ({
        lang: m[2],
        body: m[3]
            .split("\n")
            .map((line) => (line.startsWith(m[1]) ? line.slice(m[1].length) : line))
            .join("\n"),
    }));
}

const blocks = walkthroughBlocks();
const yamlBlock = blocks.find((b) => b.lang === "yaml")!;
const [setUp, cutOver] = blocks.filter((b) => b.lang === "sh");
const stackFile = load(yamlBlock.body) as { config: Record<string, any> };
const servers = stackFile.config["app-databases:servers"];
const apps = stackFile.config["app-databases:apps"];
const SERVER = Object.keys(servers)[0];

/** Shell lines of a block that are commands (comment-only lines left out). */
const commands = (body: string) => body.split("\n").filter((line) => line.trim() !== "" && !line.trim().startsWith("#"));

const cluster = new TestCluster({ maxConnections: servers[SERVER].maxConnections ?? 100 });
let stack: TestStack;
let home: string;
let legacy: Client; // a service still connected as postgres throughout

/** The walkthrough's server as written, at this machine's address. */
const serverConfig = () => ({
    ...servers,
    [SERVER]: { ...servers[SERVER], host: "127.0.0.1", port: cluster.port, sslmode: "disable" },
});

function shell(line: string) {
    const run = stack.shell(line, {
        HOME: home,
        PGHOST: "127.0.0.1",
        PGPORT: String(cluster.port),
        PGPASSWORD: cluster.adminPassword,
    });
    if (run.status !== 0) throw new Error(`\`${line}\` failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
    return run.stdout;
}

async function sql(database: string, statements: readonly string[]): Promise<void> {
    const client = new Client(cluster.clientConfig(cluster.adminUser, cluster.adminPassword, database));
    await client.connect();
    try {
        for (const s of statements) await client.query(s);
    } finally {
        await client.end();
    }
}

async function asUrl<T = any>(url: string, text: string): Promise<T[]> {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
        return (await client.query(text)).rows as T[];
    } finally {
        await client.end();
    }
}

beforeAll(async () => {
    await cluster.start();
    // The walkthrough's server: seed 002 without the lab's grafana (not part of it).
    await sql(
        "postgres",
        SEED_SERVER.filter((s) => !/\bgrafana\b/.test(s)),
    );
    await sql("tracksolid_db", SEED_TRACKSOLID);
    await sql("fleet_platform", SEED_FLEET);
    legacy = new Client(cluster.clientConfig("postgres", cluster.adminPassword, "tracksolid_db"));
    await legacy.connect();
    home = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-home-"));
    // The walkthrough reads the admin password from ~/.timescale-postgres.pw.
    fs.writeFileSync(path.join(home, ".timescale-postgres.pw"), cluster.adminPassword, { mode: 0o600 });
    stack = await TestStack.create({ stackName: "prod", config: { servers: serverConfig(), apps } });
}, 240_000);

afterAll(async () => {
    await legacy?.end().catch(() => undefined);
    // prod stacks protect their data: the stack is forgotten, the server goes away with the cluster.
    await stack?.stack.workspace.removeStack(stack.stack.name, { force: true }).catch(() => undefined);
    await cluster.stop();
    if (home) fs.rmSync(home, { recursive: true, force: true });
});

describe("README walkthrough, as written", () => {
    it("step 1: the secret, the preview (budget and adoption plan), the up; the postgres service keeps working", async () => {
        expect(commands(setUp.body)).toHaveLength(3);
        const [setSecret, preview, up] = commands(setUp.body).map((l) => l.replace(/\s+#.*$/, ""));
        shell(`pulumi stack select prod && ${setSecret}`);
        const planned = shell(preview);
        expect(planned).toContain("apps.tracksolid on timescale: adoption changes these (nothing is dropped or recreated):");
        expect(planned).toContain("apps.fleet on timescale: adoption changes these (nothing is dropped or recreated):");
        expect(planned).toContain(
            "search_path in tracksolid_db of tracksolid_migrate, worker_app, dashboard_app, ingest_app, webhook_app: tracksolid, reporting, public",
        );
        expect(planned).toMatch(/budgets\s*:\s*\{\s*timescale/);
        // `pulumi up` asks for a yes; a shell without a terminal gives it as a flag.
        shell(`${up} --yes`);
        const { rows } = await legacy.query("SELECT count(*)::int AS n FROM tracksolid.positions");
        expect(rows).toEqual([{ n: 500 }]);
        expect(shell(`pulumi preview --stack prod --expect-no-changes`)).toBeTruthy();
    });

    it("step 2: the printed URLs log in as each service's own role, with the privileges the walkthrough says", async () => {
        const lines = commands(cutOver.body).map((l) => l.replace(/\s+#.*$/, ""));
        const urls = lines.filter((l) => l.startsWith("pulumi stack output")).map((l) => shell(l).trim());
        expect(urls).toHaveLength(4);
        const [worker, dashboard, webhook, gateway] = urls;
        // The login (session_user): the ingestors' sessions then run as tracksolid_migrate (current_user).
        const me = async (url: string) => (await asUrl<{ u: string }>(url, "SELECT session_user AS u"))[0].u;
        expect([await me(worker), await me(dashboard), await me(webhook), await me(gateway)]).toEqual([
            "worker_app",
            "dashboard_app",
            "webhook_app",
            "gateway_app",
        ]);

        // "Each role finds tracksolid, reporting, public on its search_path".
        for (const url of [worker, dashboard, webhook]) {
            expect((await asUrl<{ search_path: string }>(url, "SHOW search_path"))[0].search_path).toBe("tracksolid, reporting, public");
            expect(await asUrl(url, "SELECT count(*)::int AS n FROM positions")).toEqual([{ n: 500 }]);
        }
        // Readers read only.
        await expect(asUrl(worker, "INSERT INTO positions (device, speed) VALUES ('x', 1)")).rejects.toThrow(/permission denied/);
        await expect(asUrl(dashboard, "DELETE FROM devices")).rejects.toThrow(/permission denied/);

        // The ingestors run migrations as tracksolid_migrate: a table one creates is usable by the other and by the readers.
        const ingest = (await stack.outputs()).apps.tracksolid.extraRoleUrls.ingest_app as string;
        await asUrl(webhook, "CREATE TABLE tracksolid.hooks (id serial PRIMARY KEY, body text)");
        await asUrl(ingest, "INSERT INTO hooks (body) VALUES ('from ingest')");
        expect(await asUrl(worker, "SELECT body FROM hooks")).toEqual([{ body: "from ingest" }]);
        const [{ owner }] = await asUrl<{ owner: string }>(
            worker,
            "SELECT tableowner AS owner FROM pg_tables WHERE schemaname = 'tracksolid' AND tablename = 'hooks'",
        );
        expect(owner).toBe("tracksolid_migrate");
        expect(await asUrl(webhook, "SELECT current_user AS u")).toEqual([{ u: "tracksolid_migrate" }]);

        // The extension's functions in public resolve unqualified for the fleet's services.
        expect(await asUrl(gateway, "SELECT length(digest('x', 'sha256'))::int AS n")).toEqual([{ n: 32 }]);
        expect(await asUrl(gateway, "SELECT count(*)::int AS n FROM vehicles")).toEqual([{ n: 40 }]);

        // The other tools kept their access.
        const analytics = new Client(cluster.clientConfig("analytics_ro", PW, "tracksolid_db"));
        await analytics.connect();
        expect((await analytics.query("SELECT count(*)::int AS n FROM reporting.daily")).rows).toEqual([{ n: 30 }]);
        await analytics.end();

        // The watch command and the report, as written.
        const psql = lines.find((l) => l.startsWith("psql "))!.replace("-h timescale.lab", "-h 127.0.0.1");
        expect(shell(psql)).toContain("usename");
        const reportLine = lines.find((l) => l.startsWith("npm run report"))!;
        const report = stack.report(
            ...reportLine
                .replace(/^npm run report -- --stack prod\s*/, "")
                .split(/\s+/)
                .filter(Boolean),
        );
        expect(report.status).toBe(0);
        expect(report.stdout).toContain("worker_app");
    });
});
