/**
 * The pooler against direct connections, in one run (issue: pooling sized
 * from the budget). A real server with max_connections 100, ten apps with a
 * runtime CONNECTION LIMIT of 6 each, deployed by the real program with a
 * PgBouncer in front (servers.<name>.pooler). Then, at 10, 100 and 1000
 * clients spread evenly over the ten apps, each client opens its own
 * connection and runs short transactions back to back for a fixed time:
 *
 *   direct  — through each app's runtimeUrl (what an app does without a pooler)
 *   pooled  — through each app's runtimePooledUrl
 *
 * Printed per row: clients that could connect and those refused (with the
 * server's reason), transactions per second, latency p50/p99 of the
 * transactions that ran, and the server's peak client backends (sampled from
 * pg_stat_activity every 100 ms). Written to bench/results/pooler-latest.{json,md}.
 *
 *   source scripts/pulumi-env.sh
 *   node -r ts-node/register/transpile-only bench/src/pooler.ts [--seconds 15] [--clients 10,100,1000]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { Client } from "pg";
import { freePort, queryUrl, TestCluster } from "../../test/kit/postgres";
import { PROJECT_ROOT, TestStack } from "../../test/kit/stack";

const APPS = Array.from({ length: 10 }, (_, i) => `svc${i}`);
const RUNTIME_LIMIT = 6;

function arg(name: string, fallback: string): string {
    const at = process.argv.indexOf(`--${name}`);
    return at > 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}
const SECONDS = Number(arg("seconds", "15"));
const CLIENT_COUNTS = arg("clients", "10,100,1000").split(",").map(Number);

interface Row {
    mode: "direct" | "pooled";
    clients: number;
    connected: number;
    refused: number;
    refusal?: string;
    errors: number;
    transactions: number;
    tps: number;
    p50Ms: number;
    p99Ms: number;
    peakBackends: number;
}

function percentile(sorted: readonly number[], p: number): number {
    if (sorted.length === 0) return NaN;
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(cluster: TestCluster, urls: Record<string, string>, mode: Row["mode"], clients: number): Promise<Row> {
    const opened: { client: Client; id: number }[] = [];
    const refusals: string[] = [];
    // Connect in batches of 25: every login is a SCRAM exchange.
    for (let start = 0; start < clients; start += 25) {
        await Promise.all(
            Array.from({ length: Math.min(25, clients - start) }, async (_, k) => {
                const i = start + k;
                const app = APPS[i % APPS.length];
                const client = new Client({ connectionString: urls[app], connectionTimeoutMillis: 60_000 });
                client.on("error", () => undefined);
                try {
                    await client.connect();
                    opened.push({ client, id: Math.floor(i / APPS.length) });
                } catch (err) {
                    refusals.push((err as Error).message);
                    await client.end().catch(() => undefined);
                }
            }),
        );
    }

    const sampler = new Client(cluster.clientConfig(cluster.adminUser, cluster.adminPassword));
    await sampler.connect();
    let peak = 0;
    let running = true;
    const sampling = (async () => {
        while (running) {
            const [{ n }] = (
                await sampler.query<{ n: number }>(
                    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename LIKE 'svc%'",
                )
            ).rows;
            peak = Math.max(peak, n);
            await new Promise((r) => setTimeout(r, 100));
        }
    })();

    const latencies: number[] = [];
    let errors = 0;
    const startedAt = process.hrtime.bigint();
    const stopAt = Date.now() + SECONDS * 1000;
    await Promise.all(
        opened.map(async ({ client, id }) => {
            while (Date.now() < stopAt) {
                const t0 = process.hrtime.bigint();
                try {
                    // One short transaction in one round trip.
                    await client.query(`BEGIN; UPDATE counters SET n = n + 1 WHERE id = ${id}; COMMIT`);
                    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
                } catch {
                    errors++;
                    return;
                }
            }
        }),
    );
    const elapsed = Number(process.hrtime.bigint() - startedAt) / 1e9;
    running = false;
    await sampling;
    await sampler.end();
    await Promise.all(opened.map(({ client }) => client.end().catch(() => undefined)));

    latencies.sort((a, b) => a - b);
    return {
        mode,
        clients,
        connected: opened.length,
        refused: refusals.length,
        ...(refusals.length ? { refusal: refusals[0] } : {}),
        errors,
        transactions: latencies.length,
        tps: Math.round(latencies.length / elapsed),
        p50Ms: Number(percentile(latencies, 50).toFixed(2)),
        p99Ms: Number(percentile(latencies, 99).toFixed(2)),
        peakBackends: peak,
    };
}

const ms = (v: number) => (Number.isFinite(v) ? String(v) : "—");

function table(rows: readonly Row[]): string {
    const lines = [
        "| clients | mode | connected | refused | tx/s | p50 ms | p99 ms | peak server backends |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ];
    for (const r of rows) {
        lines.push(
            `| ${r.clients} | ${r.mode} | ${r.connected} | ${r.refused}${r.refusal ? ` (${r.refusal})` : ""} | ${r.tps} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${r.peakBackends} |`,
        );
    }
    return lines.join("\n");
}

async function main(): Promise<void> {
    execFileSync("bash", [path.join(PROJECT_ROOT, "scripts", "pgbouncer-image.sh")], { stdio: "inherit" });
    const maxClients = Math.max(...CLIENT_COUNTS);
    const cluster = new TestCluster({ maxConnections: 100 });
    await cluster.start();
    const poolerPort = await freePort();
    const config = {
        servers: {
            local: cluster.serverConfig({
                maxConnections: 100,
                pooler: { hostPort: poolerPort, maxClientConnections: maxClients + 50 },
            }),
        },
        apps: Object.fromEntries(APPS.map((app) => [app, { connectionLimit: RUNTIME_LIMIT }])),
    };
    const stack = await TestStack.create({
        config,
        secrets: [{ path: "servers.local.admin.password", value: cluster.adminPassword }],
    });
    try {
        console.error("[pooler bench] pulumi up: 10 apps behind one PgBouncer");
        await stack.stack.up({ onOutput: () => undefined });
        const apps = (await stack.outputs()).apps as Record<string, { runtimeUrl: string; runtimePooledUrl: string; migrateUrl: string }>;
        for (const app of APPS) {
            await queryUrl(
                apps[app].migrateUrl,
                `CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0);
                 INSERT INTO counters (id) SELECT generate_series(0, ${Math.ceil(maxClients / APPS.length)})`,
            );
        }
        const direct = Object.fromEntries(APPS.map((a) => [a, apps[a].runtimeUrl]));
        const pooled = Object.fromEntries(APPS.map((a) => [a, apps[a].runtimePooledUrl]));
        const rows: Row[] = [];
        // Every direct row first: PgBouncer keeps the server connections a pooled row opened
        // (up to each pool's size), which would take direct clients' place under each role's limit.
        for (const [mode, urls] of [
            ["direct", direct],
            ["pooled", pooled],
        ] as const) {
            for (const clients of CLIENT_COUNTS) {
                console.error(`[pooler bench] ${mode}, ${clients} clients, ${SECONDS} s`);
                const row = await measure(cluster, urls, mode, clients);
                console.error(`  ${JSON.stringify(row)}`);
                rows.push(row);
            }
        }
        rows.sort((a, b) => a.clients - b.clients);
        const header =
            `Pooler against direct connections: ${APPS.length} apps, runtime CONNECTION LIMIT ${RUNTIME_LIMIT} each, ` +
            `max_connections 100, ${SECONDS} s per row, one short UPDATE transaction per round trip, no think time. ` +
            `${os.cpus().length} CPUs, load average ${os
                .loadavg()
                .map((l) => l.toFixed(1))
                .join(" ")} at the end, ${new Date().toISOString()}.`;
        const md = `${header}\n\n${table(rows)}\n`;
        console.log(md);
        const out = path.join(PROJECT_ROOT, "bench", "results");
        fs.mkdirSync(out, { recursive: true });
        fs.writeFileSync(path.join(out, "pooler-latest.json"), JSON.stringify({ header, seconds: SECONDS, rows }, null, 2) + "\n");
        fs.writeFileSync(path.join(out, "pooler-latest.md"), md);
    } finally {
        await stack.dispose();
        await cluster.stop();
    }
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
