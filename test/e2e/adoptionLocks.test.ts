/**
 * Adoption's owner changes never block a running service (issue 33): with a
 * report's transaction left open on one table, `pulumi up` moves everything
 * else, each object in a short transaction of its own, while a service's
 * plain reads go on; it stops after the configured wait naming the session in
 * the way and what did not move, and the next `up` moves the rest.
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster } from "../kit/postgres";
import { TestStack } from "../kit/stack";

const LOCK_TIMEOUT_MS = 1000;
const MAX_WAIT_SECONDS = 8;
/** A read may queue behind a waiting owner change for the lock timeout, plus this for a loaded machine. */
const MARGIN_MS = 1000;

const SEED = [
    "CREATE SCHEMA sales",
    "CREATE TABLE sales.customers (id int PRIMARY KEY, name text)",
    "INSERT INTO sales.customers SELECT g, 'c' || g FROM generate_series(1, 50) g",
    "CREATE TABLE sales.invoices (id int PRIMARY KEY, total numeric)",
    "INSERT INTO sales.invoices SELECT g, g * 1.5 FROM generate_series(1, 80) g",
    // The table the report holds: after customers and invoices by name, so they move before the wait.
    "CREATE TABLE sales.orders (id serial PRIMARY KEY, customer int, amount int)",
    "INSERT INTO sales.orders (customer, amount) SELECT g % 50 + 1, g FROM generate_series(1, 300) g",
    "CREATE VIEW sales.v_totals AS SELECT customer, sum(amount) AS total FROM sales.orders GROUP BY customer",
    "CREATE SEQUENCE sales.batch_seq",
    "CREATE FUNCTION sales.kpi() RETURNS int LANGUAGE sql STABLE AS 'SELECT 42'",
];
/** The tables a service reads throughout; all but sales.orders are moved while the report holds it. */
const READ = ["sales.customers", "sales.invoices", "sales.v_totals", "sales.orders"];

interface Poll {
    stop(): Promise<Record<string, { reads: number; maxMs: number }>>;
}

/** Plain reads of `tables`, one round every ~100 ms, each timed. */
async function pollReads(client: Client, tables: readonly string[]): Promise<Poll> {
    const stats = Object.fromEntries(tables.map((t) => [t, { reads: 0, maxMs: 0 }]));
    let stopped = false;
    const loop = (async () => {
        while (!stopped) {
            for (const table of tables) {
                const started = performance.now();
                try {
                    await client.query(`SELECT count(*) FROM ${table}`);
                } catch {
                    // statement_timeout: counted as the time it waited
                }
                const s = stats[table];
                s.reads++;
                s.maxMs = Math.max(s.maxMs, performance.now() - started);
            }
            await new Promise((r) => setTimeout(r, 100));
        }
    })();
    return {
        async stop() {
            stopped = true;
            await loop;
            return stats;
        },
    };
}

describe("adoption with a long transaction open on one table", () => {
    const cluster = new TestCluster();
    let stack: TestStack;
    let report: Client; // a report left idle in transaction, holding ACCESS SHARE on sales.orders
    let reportPid: number;
    let service: Client; // a service still connected as postgres, reading

    const config = () => ({
        servers: { lab: cluster.serverConfig({ maxConnections: 100 }) },
        apps: {
            shop: {
                database: "shop_db",
                schemas: ["sales"],
                connectionLimit: 5,
                adopt: {
                    database: true,
                    moveObjects: { schemas: ["sales"], lockTimeoutMs: LOCK_TIMEOUT_MS, maxWaitSeconds: MAX_WAIT_SECONDS },
                },
            },
        },
    });
    const secrets = () => [{ path: "servers.lab.admin.password", value: cluster.adminPassword }];

    const owners = async () =>
        Object.fromEntries(
            (
                await cluster.admin<{ name: string; owner: string }>(
                    `SELECT c.relname AS name, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
                      WHERE c.relnamespace = 'sales'::regnamespace AND c.relkind IN ('r', 'v', 'S')
                     UNION ALL SELECT proname || '()', pg_get_userbyid(proowner) FROM pg_proc WHERE pronamespace = 'sales'::regnamespace
                     ORDER BY 1`,
                    [],
                    "shop_db",
                )
            ).map((r) => [r.name, r.owner]),
        );
    const rowCounts = async () =>
        (
            await cluster.admin(
                `SELECT (SELECT count(*) FROM sales.customers)::int AS customers, (SELECT count(*) FROM sales.invoices)::int AS invoices,
                        (SELECT count(*) FROM sales.orders)::int AS orders`,
                [],
                "shop_db",
            )
        )[0];

    let before: Record<string, number>;

    beforeAll(async () => {
        await cluster.start();
        await cluster.admin("CREATE DATABASE shop_db");
        for (const statement of SEED) await cluster.admin(statement, [], "shop_db");
        before = await rowCounts();
        report = new Client({ ...cluster.clientConfig("postgres", cluster.adminPassword, "shop_db"), application_name: "nightly-report" });
        await report.connect();
        reportPid = (await report.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
        service = new Client({ ...cluster.clientConfig("postgres", cluster.adminPassword, "shop_db"), application_name: "shop-service" });
        await service.connect();
        // Longer than any wait this test allows: a read that hangs shows as this long, and the test fails.
        await service.query("SET statement_timeout = 60000");
        stack = await TestStack.create({ config: config(), secrets: secrets() });
    }, 240_000);

    afterAll(async () => {
        await report?.end().catch(() => undefined);
        await service?.end().catch(() => undefined);
        await stack?.stack.workspace.removeStack(stack.stack.name, { force: true }).catch(() => undefined);
        await cluster.stop();
    });

    describe("while the report holds sales.orders", () => {
        let output = "";
        let failure = "";
        let reads: Record<string, { reads: number; maxMs: number }>;

        beforeAll(async () => {
            await report.query("BEGIN");
            await report.query("SELECT count(*) FROM sales.orders");
            const poll = await pollReads(service, READ);
            try {
                await stack.stack.up({ onOutput: (s) => (output += s) });
            } catch (err) {
                failure = String(err);
            }
            reads = await poll.stop();
        }, 600_000);

        it("fails, naming the session in the way and what moved and what did not", () => {
            expect(failure, output).not.toBe("");
            const all = output + failure;
            expect(all).toContain(
                "database shop_db: moved 5 of 6 objects to shop_migrate; 1 not done, still locked by other sessions after waiting",
            );
            expect(all).toContain("not moved: sales.orders");
            expect(all).toMatch(
                new RegExp(
                    `in the way: pid ${reportPid} \\(user postgres, application "nightly-report", idle in transaction for \\d+ s, transaction open \\d+ s\\): "SELECT count\\(\\*\\) FROM sales.orders"`,
                ),
            );
            expect(all).toContain("Every object stays usable, moved or not, and this step holds no lock any more.");
            expect(all).toContain("then run `pulumi up` again: it moves the rest.");
        });

        it("says while it waits which object waits and who holds it", () => {
            expect(output).toContain("database shop_db: 1 object waits for a lock (sales.orders); waited ");
            expect(output).toContain(`In the way: pid ${reportPid} (user postgres, application "nightly-report"`);
        });

        it("gives up after the configured wait, not before", () => {
            const waited = Number(/still locked by other sessions after waiting (\d+) s/.exec(failure)?.[1]);
            expect(waited).toBeGreaterThanOrEqual(MAX_WAIT_SECONDS);
            expect(waited).toBeLessThanOrEqual(MAX_WAIT_SECONDS + 2);
        });

        it("moved everything but the held table, and left the report's transaction alone", async () => {
            expect(await owners()).toEqual({
                batch_seq: "shop_migrate",
                customers: "shop_migrate",
                invoices: "shop_migrate",
                "kpi()": "shop_migrate",
                orders: "postgres",
                orders_id_seq: "postgres",
                v_totals: "shop_migrate",
            });
            expect((await report.query("SELECT count(*)::int AS n FROM sales.orders")).rows[0].n).toBe(300);
        });

        it("never made a service's plain read wait longer than the lock timeout", () => {
            for (const table of READ) {
                expect(reads[table].reads, table).toBeGreaterThan(20);
                expect(reads[table].maxMs, table).toBeLessThan(LOCK_TIMEOUT_MS + MARGIN_MS);
            }
        });
    });

    describe("once the report ends", () => {
        beforeAll(async () => {
            await report.query("COMMIT");
            await stack.stack.up({ onOutput: () => undefined });
        }, 600_000);

        it("the next up moves the rest", async () => {
            const after = await owners();
            expect(Object.values(after).every((o) => o === "shop_migrate")).toBe(true);
            expect(Object.keys(after)).toHaveLength(7);
        });

        it("shows no changes afterwards, refreshed too", async () => {
            await stack.stack.preview({ expectNoChanges: true, onOutput: () => undefined });
            const refreshed = stack.cli("preview", "--refresh", "--expect-no-changes", "--non-interactive");
            expect(refreshed.status, refreshed.stdout + refreshed.stderr).toBe(0);
        });

        it("keeps every row", async () => {
            expect(await rowCounts()).toEqual(before);
        });
    });

    describe("a table made as postgres later, held by a report when the next up moves it", () => {
        let failure = "";

        beforeAll(async () => {
            await service.query("CREATE TABLE sales.late (id int)");
            await service.query("INSERT INTO sales.late SELECT generate_series(1, 10)");
            await report.query("BEGIN");
            await report.query("SELECT count(*) FROM sales.late");
            // Refresh finds the drift; the update that moves it fails on the lock.
            await stack.stack.up({ refresh: true, onOutput: () => undefined }).catch((err) => (failure = String(err)));
            await report.query("COMMIT");
        }, 600_000);

        it("fails the update naming the table, and moved nothing else", async () => {
            expect(failure).toContain("database shop_db: moved 0 of 1 objects to shop_migrate; 1 not done");
            expect(failure).toContain("not moved: sales.late");
            expect((await owners()).late).toBe("postgres");
        });

        it("the next up, without refresh, continues and moves it", async () => {
            await stack.stack.up({ onOutput: () => undefined });
            expect((await owners()).late).toBe("shop_migrate");
            await stack.stack.preview({ expectNoChanges: true, onOutput: () => undefined });
            expect((await service.query("SELECT count(*)::int AS n FROM sales.late")).rows[0].n).toBe(10);
        });
    });
});
