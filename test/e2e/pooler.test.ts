/**
 * Connection pooling on a real server: ten apps behind one real PgBouncer
 * (the local image, scripts/pgbouncer-image.sh) in front of a server with
 * max_connections 100. Many more clients than the server has connections run
 * short transactions at once; none is refused, and the server never holds
 * more backends than the budget gives. A runtime password rotated during the
 * run reaches the pooler by reload: established clients carry on, the new
 * password logs in, the old one no longer does.
 *
 * POOLER_CLIENTS_PER_APP (default 100) and POOLER_SECONDS (default 30) scale the run.
 */
import { budgetEntries } from "../../program/keyedOutputs";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, passwordOf, queryUrl, TestCluster } from "../kit/postgres";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const APPS = Array.from({ length: 10 }, (_, i) => `svc${i}`);
/** An eleventh app still fits: 11 × (6 + 2) + 3 + 3 + 5 = 99. */
const LATE_APP = "svc10";
const CLIENTS_PER_APP = Number(process.env.POOLER_CLIENTS_PER_APP ?? 100);
const SECONDS = Number(process.env.POOLER_SECONDS ?? 30);
/** 10 × (6 + 2) + (2 + 1) provisioning + 3 reserved + 5 headroom = 91 of 100. */
const RUNTIME_LIMIT = 6;
const BUDGET_TOTAL = 91;

const cluster = new TestCluster({ maxConnections: 100 });
let stack: TestStack;
let poolerPort: number;

/** The stack's config; `pooler: null` leaves the pooler out. */
function config(rotation = 0, pooler: Record<string, unknown> | null = {}, apps: readonly string[] = APPS) {
    return {
        servers: {
            local: cluster.serverConfig({
                maxConnections: 100,
                ...(pooler
                    ? { pooler: { hostPort: poolerPort, maxClientConnections: APPS.length * CLIENTS_PER_APP + 50, ...pooler } }
                    : {}),
            }),
        },
        apps: Object.fromEntries(
            apps.map((app) => [app, { connectionLimit: RUNTIME_LIMIT, ...(app === "svc0" ? { rotation: { runtime: rotation } } : {}) }]),
        ),
    };
}
const secrets = () => [{ path: "servers.local.admin.password", value: cluster.adminPassword }];

interface AppOut {
    runtimeUrl: string;
    runtimePooledUrl: string;
    migrateUrl: string;
}
let outputs: Record<string, AppOut>;

async function up(rotation = 0, apps: readonly string[] = APPS, refresh = false): Promise<Record<string, AppOut>> {
    await stack.setConfig(config(rotation, {}, apps), secrets());
    await stack.stack.up({ onOutput: () => undefined, refresh });
    return (await stack.outputs()).apps as Record<string, AppOut>;
}

/** The pooler's container on the engine (components/pgbouncer.ts names it). */
const container = () => `app-databases-${stack.stack.name}-local-pgbouncer-0`;

/** When the pooler's container last started. */
const started = () => execFileSync("docker", ["inspect", "-f", "{{.State.StartedAt}}", container()], { encoding: "utf8" }).trim();

/** The error a connection through `url` fails with, or "connected". */
async function refusal(url: string): Promise<string> {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    try {
        await client.connect();
        await client.query("SELECT 1");
        return "connected";
    } catch (err) {
        return (err as Error).message;
    } finally {
        await client.end().catch(() => undefined);
    }
}

beforeAll(async () => {
    execFileSync("bash", [path.join(PROJECT_ROOT, "scripts", "pgbouncer-image.sh")], { stdio: "ignore" });
    await cluster.start();
    poolerPort = await freePort();
    stack = await TestStack.create({ config: config(), secrets: secrets() });
    outputs = await up();
    for (const app of APPS) {
        await queryUrl(
            outputs[app].migrateUrl,
            `CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0);
             INSERT INTO counters (id) SELECT generate_series(0, ${CLIENTS_PER_APP - 1})`,
        );
    }
});

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
});

describe("a PgBouncer sized from the budget", () => {
    it("hands out a pooled URL per app, on the pooler's port, next to the direct one", () => {
        for (const app of APPS) {
            const pooled = new URL(outputs[app].runtimePooledUrl);
            const direct = new URL(outputs[app].runtimeUrl);
            expect(pooled.port).toBe(String(poolerPort));
            expect(pooled.username).toBe(`${app}_app`);
            expect(pooled.password).toBe(direct.password);
            expect(pooled.pathname).toBe(`/${app}`);
            expect(direct.port).toBe(String(cluster.port));
        }
    });

    it("shows the pooler's rows in the budget: 6 per app within each runtime role's 6, total unchanged", async () => {
        const budget = (await stack.outputs()).budgets.local;
        expect(budget.total).toBe(BUDGET_TOTAL);
        const rows = budgetEntries(budget).filter((e) => e.kind === "pooler");
        expect(rows).toHaveLength(APPS.length);
        expect(rows[0]).toMatchObject({ name: "(pooler) svc0_app", connections: 6, counted: false });
    });

    it("refuses roles it does not pool, and a preview whose pools do not fit, with their messages", async () => {
        const migrate = new URL(outputs.svc1.migrateUrl);
        const pooledMigrate = new URL(outputs.svc1.runtimePooledUrl);
        pooledMigrate.username = migrate.username;
        pooledMigrate.password = migrate.password;
        // Not in the auth file: PgBouncer ends the SCRAM exchange with its own refusal.
        expect(await refusal(pooledMigrate.toString())).toBe("SASL authentication failed");

        await stack.setConfig(config(0, { poolSize: 7 }), secrets());
        let output = "";
        await expect(stack.stack.preview({ onOutput: (s) => (output += s) })).rejects.toThrow();
        expect(output).toContain(
            "servers.local.pooler.poolSize: svc0: 1 instance × (pool 7 + reserve 0) = 7 server connections for svc0_app, over its CONNECTION LIMIT 6",
        );
        await stack.setConfig(config(), secrets());
    });

    it(`serves ${APPS.length * CLIENTS_PER_APP} clients for ${SECONDS} s within the budget, through a password rotation`, async () => {
        const clients: { app: string; id: number; client: Client }[] = [];
        const errors: string[] = [];
        // Connect in batches: every login is a SCRAM exchange for PgBouncer.
        for (const app of APPS) {
            for (let start = 0; start < CLIENTS_PER_APP; start += 25) {
                const batch = Array.from({ length: Math.min(25, CLIENTS_PER_APP - start) }, async (_, k) => {
                    const client = new Client({ connectionString: outputs[app].runtimePooledUrl, connectionTimeoutMillis: 60_000 });
                    client.on("error", (e) => errors.push(`${app}: ${e.message}`));
                    await client.connect();
                    clients.push({ app, id: start + k, client });
                });
                await Promise.all(batch);
            }
        }
        expect(clients).toHaveLength(APPS.length * CLIENTS_PER_APP);

        // Sample what the server holds while the clients run.
        const sampler = new Client(cluster.clientConfig(cluster.adminUser, cluster.adminPassword));
        await sampler.connect();
        const peaks = { total: 0, perRole: 0, samples: 0 };
        let running = true;
        const sampling = (async () => {
            while (running) {
                const rows = (
                    await sampler.query<{ usename: string; n: number }>(
                        "SELECT usename, count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY usename",
                    )
                ).rows;
                peaks.total = Math.max(
                    peaks.total,
                    rows.reduce((s, r) => s + r.n, 0),
                );
                for (const r of rows) if (r.usename?.endsWith("_app")) peaks.perRole = Math.max(peaks.perRole, r.n);
                peaks.samples++;
                await new Promise((r) => setTimeout(r, 200));
            }
        })();

        const done: number[] = new Array(clients.length).fill(0);
        const startedAt = Date.now();
        // The run lasts SECONDS, and at least 5 s past the rotation's up.
        let stopAt = startedAt + SECONDS * 1000;
        const work = clients.map(async ({ app, id, client }, i) => {
            while (Date.now() < stopAt) {
                try {
                    // One short transaction in one round trip (transaction mode gives it a server connection for that long).
                    await client.query(`BEGIN; UPDATE counters SET n = n + 1 WHERE id = ${id}; COMMIT`);
                    done[i]++;
                } catch (err) {
                    errors.push(`${app}/${id}: ${(err as Error).message}`);
                    return;
                }
                await new Promise((r) => setTimeout(r, 50));
            }
        });

        // A quarter of the way in, rotate svc0's runtime password; the pooler's container stays up.
        const startedBefore = started();
        await new Promise((r) => setTimeout(r, (SECONDS * 1000) / 4));
        const rotatedAt = Date.now();
        const rotated = await up(1);
        const rotationSeconds = (Date.now() - rotatedAt) / 1000;
        stopAt = Math.max(stopAt, Date.now() + 5_000);
        await Promise.all(work);
        const seconds = (Date.now() - startedAt) / 1000;
        running = false;
        await sampling;
        await sampler.end();

        const total = done.reduce((s, n) => s + n, 0);
        console.log(
            `pooler: ${clients.length} clients, ${total} transactions in ${seconds.toFixed(1)} s (${Math.round(total / seconds)}/s), ` +
                `peak backends ${peaks.total} (budget ${BUDGET_TOTAL}, max_connections 100), peak per runtime role ${peaks.perRole} (limit ${RUNTIME_LIMIT}), ` +
                `${peaks.samples} samples; rotation up took ${rotationSeconds.toFixed(1)} s`,
        );
        expect(errors).toEqual([]);
        expect(done.every((n) => n > 0)).toBe(true);
        expect(started()).toBe(startedBefore);
        expect(peaks.samples).toBeGreaterThan(10);
        expect(peaks.total).toBeLessThanOrEqual(BUDGET_TOTAL);
        expect(peaks.perRole).toBeLessThanOrEqual(RUNTIME_LIMIT);
        // Every client's transactions reached the server (read by the migrate role: the pooler holds all of svc3_app's).
        const counted = await queryUrl<{ n: string }>(outputs.svc3.migrateUrl, "SELECT sum(n)::text AS n FROM counters");
        expect(Number(counted[0].n)).toBe(done.filter((_, i) => clients[i].app === "svc3").reduce((s, n) => s + n, 0));
        // By default the pools take each runtime role's whole limit: a direct session of the role finds none left.
        expect(await refusal(outputs.svc3.runtimeUrl)).toBe('too many connections for role "svc3_app"');
        await Promise.all(clients.map(({ client }) => client.end().catch(() => undefined)));

        // The rotation reached the pooler by reload: the new password logs in there, the old one no longer does.
        expect(passwordOf(rotated.svc0.runtimePooledUrl)).not.toBe(passwordOf(outputs.svc0.runtimePooledUrl));
        expect(await refusal(rotated.svc0.runtimePooledUrl)).toBe("connected");
        expect(await refusal(outputs.svc0.runtimePooledUrl)).toBe("SASL authentication failed");
        expect(await refusal(outputs.svc0.runtimeUrl)).toBe('password authentication failed for user "svc0_app"');
        expect(rotated.svc1.runtimePooledUrl).toBe(outputs.svc1.runtimePooledUrl);
    });

    it("leaves nothing to change after a refresh", () => {
        expect(stack.refreshedPlan()).toEqual([]);
    });

    it("takes a new app by reload: clients connected before the up carry on", async () => {
        const before = started();
        const established = new Client({ connectionString: outputs.svc1.runtimePooledUrl });
        await established.connect();
        const grown = await up(1, [...APPS, LATE_APP]);
        await queryUrl(grown[LATE_APP].migrateUrl, "CREATE TABLE t (x int)");
        expect(await queryUrl(grown[LATE_APP].runtimePooledUrl, "SELECT current_user AS u, current_database() AS d")).toEqual([
            { u: `${LATE_APP}_app`, d: LATE_APP },
        ]);
        expect((await established.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
        await established.end();
        expect(started()).toBe(before);
        expect((await stack.outputs()).budgets.local.total).toBe(99);
    });

    it("tells clients when the pooler is gone, and `up --refresh` brings it back", async () => {
        const url = (await stack.outputs()).apps.svc2.runtimePooledUrl as string;
        const client = new Client({ connectionString: url });
        await client.connect();
        const lost = new Promise<string>((resolve) => client.on("error", (e) => resolve(e.message)));
        execFileSync("docker", ["kill", container()], { stdio: "ignore" });
        expect(await lost).toBe("Connection terminated unexpectedly");
        expect(await refusal(url)).toMatch(/ECONNREFUSED/);
        await up(1, [...APPS, LATE_APP], true);
        expect(await queryUrl(url, "SELECT current_user AS u")).toEqual([{ u: "svc2_app" }]);
    });

    it("runs two instances on one port, each with half of every pool, the server still within each role's limit", async () => {
        await stack.setConfig(config(1, { instances: 2 }, [...APPS, LATE_APP]), secrets());
        await stack.stack.up({ onOutput: () => undefined });
        const { apps, budgets } = await stack.outputs();
        const rows = budgetEntries(budgets.local).filter((e) => e.name === "(pooler) svc4_app");
        expect(rows).toMatchObject([{ connections: 6, note: "2 × (pool 3 + reserve 0), within svc4_app's 6" }]);
        const running = execFileSync("docker", ["ps", "--format", "{{.Names}}"], { encoding: "utf8" });
        expect(running).toContain(`app-databases-${stack.stack.name}-local-pgbouncer-1`);
        // Forty clients at once on one app: spread over both instances, at most 3 + 3 server connections.
        const clients = await Promise.all(
            Array.from({ length: 40 }, async () => {
                const c = new Client({ connectionString: apps.svc4.runtimePooledUrl });
                await c.connect();
                return c;
            }),
        );
        await Promise.all(clients.map((c) => c.query("SELECT pg_sleep(0.3)")));
        const [{ n }] = await cluster.admin<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'svc4_app'");
        expect(n).toBeGreaterThan(3);
        expect(n).toBeLessThanOrEqual(RUNTIME_LIMIT);
        await Promise.all(clients.map((c) => c.end()));
    });

    it("removes its containers and the pooled URLs when the pooler is taken out, the apps left as they are", async () => {
        const before = (await stack.outputs()).apps.svc2 as AppOut;
        await stack.setConfig(config(1, null, [...APPS, LATE_APP]), secrets());
        await stack.stack.up({ onOutput: () => undefined });
        expect(execFileSync("docker", ["ps", "-a", "--format", "{{.Names}}"], { encoding: "utf8" })).not.toContain("-local-pgbouncer-");
        const after = (await stack.outputs()).apps.svc2 as AppOut;
        expect(after.runtimePooledUrl).toBeUndefined();
        expect(after.runtimeUrl).toBe(before.runtimeUrl);
        const names = execFileSync("docker", ["ps", "-a", "--format", "{{.Names}}"], { encoding: "utf8" });
        expect(names).not.toContain(container());
        expect(await refusal(before.runtimePooledUrl)).toMatch(/ECONNREFUSED/);
        expect(await queryUrl(after.runtimeUrl, "SELECT current_user AS u")).toEqual([{ u: "svc2_app" }]);
    });
});
