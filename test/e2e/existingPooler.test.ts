/**
 * A pooler the user already runs (`servers.<name>.pooler.existing`): the stack
 * deploys no PgBouncer, hands out a runtimePooledUrl at the declared address,
 * and counts the declared pools in the budget. The user's pooler here is a real
 * PgBouncer (the local image) started by hand with its own hand-written
 * config, as a user's would be; clients reach the server through it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { budgetEntries } from "../../program/keyedOutputs";
import { freePort, TestCluster } from "../kit/postgres";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const cluster = new TestCluster({ maxConnections: 50 });
const userPooler = `app-databases-e2e-userpool-${randomBytes(3).toString("hex")}`;
let stack: TestStack;
let poolerPort: number;
let confDir: string;

const config = (pooler: Record<string, unknown>) => ({
    servers: { local: cluster.serverConfig({ maxConnections: 50, pooler }) },
    apps: { shop: { connectionLimit: 4 } },
});
const secrets = () => [{ path: "servers.local.admin.password", value: cluster.adminPassword }];

async function sessionOf(url: string): Promise<{ user: string; db: string }> {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
        const [row] = (await client.query<{ user: string; db: string }>("SELECT session_user AS user, current_database() AS db")).rows;
        return row;
    } finally {
        await client.end();
    }
}

beforeAll(async () => {
    execFileSync("bash", [path.join(PROJECT_ROOT, "scripts", "pgbouncer-image.sh")], { stdio: "ignore" });
    await cluster.start();
    poolerPort = await freePort();
    confDir = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-userpool-"));
    stack = await TestStack.create({ config: config({ existing: { host: "127.0.0.1", port: poolerPort } }), secrets: secrets() });
}, 240_000);

afterAll(async () => {
    spawnSync("docker", ["rm", "-f", userPooler], { stdio: "ignore" });
    await stack?.dispose();
    await cluster.stop();
    if (confDir) fs.rmSync(confDir, { recursive: true, force: true });
});

describe("pooler.existing", () => {
    it("refuses the deployed pooler's keys beside it in a real preview, before anything is applied", async () => {
        await stack.setConfig(config({ existing: { host: "127.0.0.1", port: poolerPort }, hostPort: poolerPort }), secrets());
        let output = "";
        await expect(stack.stack.preview({ onOutput: (s) => (output += s) })).rejects.toThrow();
        expect(output).toContain(
            "servers.local.pooler.hostPort: hostPort configures a pooler the stack deploys, and existing declares one it does not: remove hostPort, or remove existing to deploy a PgBouncer",
        );
        await stack.setConfig(config({ existing: { host: "127.0.0.1", port: poolerPort } }), secrets());
    });

    it("deploys no PgBouncer, hands out the pooled URL at its address, and counts its pools in the budget", async () => {
        await stack.stack.up({ onOutput: () => undefined });
        const out = await stack.outputs();
        const shop = out.apps.shop as { runtimeUrl: string; runtimePooledUrl: string };
        const pooled = new URL(shop.runtimePooledUrl);
        expect([pooled.hostname, pooled.port, pooled.pathname, pooled.username]).toEqual([
            "127.0.0.1",
            String(poolerPort),
            "/shop",
            "shop_app",
        ]);
        expect(pooled.password).toBe(new URL(shop.runtimeUrl).password);
        const containers = execFileSync(
            "docker",
            ["ps", "-a", "--format", "{{.Names}}", "--filter", `name=app-databases-${stack.stack.name}-`],
            {
                encoding: "utf8",
            },
        );
        expect(containers.trim()).toBe("");
        const row = budgetEntries(out.budgets.local).find((e) => e.kind === "pooler");
        expect(row).toMatchObject({ name: "(pooler) shop_app", connections: 4, counted: false });
        expect(row?.note).toContain(`existing pooler at 127.0.0.1:${poolerPort}`);

        // The user's own PgBouncer, configured by hand with the login the stack handed out.
        const { username, password } = new URL(shop.runtimeUrl);
        fs.writeFileSync(
            path.join(confDir, "pgbouncer.ini"),
            [
                "[databases]",
                `shop = host=127.0.0.1 port=${cluster.port} dbname=shop`,
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                `listen_port = ${poolerPort}`,
                "unix_socket_dir =",
                "auth_type = scram-sha-256",
                "auth_file = /etc/pgbouncer/app-databases/userlist.txt",
                "pool_mode = transaction",
                "default_pool_size = 4",
                "",
            ].join("\n"),
            { mode: 0o644 },
        );
        fs.writeFileSync(path.join(confDir, "userlist.txt"), `"${username}" "${decodeURIComponent(password)}"\n`, { mode: 0o644 });
        fs.chmodSync(confDir, 0o755);
        execFileSync("docker", [
            "run",
            "-d",
            "--name",
            userPooler,
            "--network",
            "host",
            "-v",
            `${confDir}:/etc/pgbouncer/app-databases:ro`,
            "app-databases/pgbouncer:1.18",
        ]);
        let session: { user: string; db: string } | undefined;
        for (let i = 0; i < 50 && !session; i++) {
            session = await sessionOf(shop.runtimePooledUrl).catch(() => undefined);
            if (!session) await new Promise((r) => setTimeout(r, 200));
        }
        expect(session).toEqual({ user: "shop_app", db: "shop" });

        // Through it, not around it: without the user's pooler the pooled URL has nothing to reach.
        execFileSync("docker", ["stop", userPooler]);
        await expect(sessionOf(shop.runtimePooledUrl)).rejects.toThrow(/ECONNREFUSED/);
        expect(await sessionOf(shop.runtimeUrl)).toEqual({ user: "shop_app", db: "shop" });

        let preview = "";
        await stack.stack.preview({ onOutput: (s) => (preview += s), expectNoChanges: true });
    });
});
