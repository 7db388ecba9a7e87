/**
 * Backups and restores for real: a shared PostgreSQL server, the backup
 * runner container on the real Docker engine (scripts/backup-image.sh), a
 * real S3-compatible server (SeaweedFS, test/kit/seaweedfs.ts), the real
 * Pulumi engine, and the restore command (scripts/restore.ts) run as a user
 * runs it. The directory target is a small tmpfs, so a full disk is real too.
 */
import { budgetEntries } from "../../program/keyedOutputs";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { queryUrl, TestCluster } from "../kit/postgres";
import { docker, restoreCliOn, RUNNER_UID } from "../kit/backups";
import { TestS3 } from "../kit/seaweedfs";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const cluster = new TestCluster();
const s3 = new TestS3();
const BUCKET = "pg-backups";
/** The directory target's size: room for the tests' backups, and little enough to fill. */
const TARGET_SIZE = "16m";
let stack: TestStack;
let outputs: Record<string, any>;
let runner: string;
let backupDir: string;
const backupNow = (...apps: string[]) => docker("exec", runner, "app-databases-backup", "now", ...apps);
const runnerCommand = (...args: string[]) => docker("exec", runner, "app-databases-backup", ...args);
const url = (app: string, role: "migrateUrl" | "runtimeUrl" = "migrateUrl") => outputs.apps[app][role] as string;
const manifestOf = (app: string, id: string) => JSON.parse(fs.readFileSync(path.join(backupDir, app, id, "manifest.json"), "utf8"));
const drillOf = (app: string, id: string) => JSON.parse(fs.readFileSync(path.join(backupDir, app, id, "drill.json"), "utf8"));
const published = (app: string) =>
    fs
        .readdirSync(path.join(backupDir, app))
        .filter((n) => /^\d{8}T\d{6}Z$/.test(n))
        .sort();
/** The id `now` printed for an app: `<app>\t<ok|failed>\t<id>`. */
const idIn = (stdout: string, app: string) =>
    stdout
        .split("\n")
        .find((l) => l.startsWith(`${app}\t`))!
        .split("\t")[2];

/** The restore command as a user runs it, on this stack. */
const restoreCli = (...args: string[]) => restoreCliOn(stack, ...args);
const count = async (app: string, table: string, database = app) =>
    Number((await cluster.admin<{ n: string }>(`SELECT count(*) AS n FROM ${table}`, [], database))[0].n);

function config() {
    return {
        servers: { local: { host: "127.0.0.1", port: cluster.port, sslmode: "disable", admin: { username: "postgres", superuser: true } } },
        apps: {
            alpha: { connectionLimit: 3, schemas: ["public", "sales"] },
            beta: { connectionLimit: 3, schemas: ["public", "sales"] },
            gamma: { connectionLimit: 2, backup: { retention: { keepLast: 2, daily: 0, weekly: 0, monthly: 0 } } },
        },
        backup: {
            schedule: "0 3 * * *",
            timeZone: "Europe/Paris",
            targets: {
                main: { directory: { path: backupDir } },
                offsite: { s3: { endpoint: s3.endpoint, bucket: BUCKET, prefix: "lab/" } },
            },
        },
    };
}

async function seed(app: string, rows: number): Promise<void> {
    await queryUrl(
        url(app),
        `CREATE TABLE public.customers (id int PRIMARY KEY, name text, since timestamptz DEFAULT now());
         CREATE TABLE sales.orders (id bigserial PRIMARY KEY, customer int REFERENCES public.customers, total numeric(10,2), note jsonb);
         INSERT INTO public.customers SELECT g, 'customer ' || g FROM generate_series(1, ${rows}) g;
         INSERT INTO sales.orders (customer, total, note) SELECT 1 + g % ${rows}, g * 1.25, jsonb_build_object('g', g) FROM generate_series(1, ${rows * 3}) g;`,
    );
}

beforeAll(async () => {
    execFileSync("bash", [path.join(PROJECT_ROOT, "scripts/backup-image.sh")], { stdio: "inherit" });
    await cluster.start();
    await s3.start();
    s3.createBucket(BUCKET);
    backupDir = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-backups-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${TARGET_SIZE},uid=${RUNNER_UID},gid=${RUNNER_UID},mode=0755`, "tmpfs", backupDir]);
    stack = await TestStack.create({
        config: config(),
        secrets: [
            { path: "servers.local.admin.password", value: cluster.adminPassword },
            { path: "backup.targets.offsite.s3.accessKeyId", value: s3.accessKeyId },
            { path: "backup.targets.offsite.s3.secretAccessKey", value: s3.secretAccessKey },
        ],
    });
    await stack.stack.up({ onOutput: (s) => process.stdout.write(s) });
    outputs = await stack.outputs();
    runner = outputs.backup.runner;
    await seed("alpha", 40);
    await seed("beta", 25);
    await queryUrl(
        url("gamma"),
        "CREATE TABLE notes (id int, body text); INSERT INTO notes SELECT g, repeat('x', g) FROM generate_series(1, 10) g",
    );
});

afterAll(async () => {
    // Databases the restores made: the migrate roles own them, and would not drop with them there.
    const extra = await cluster.admin<{ datname: string }>("SELECT datname FROM pg_database WHERE datname ~ '_(replaced|restore)_|_copy$'");
    for (const { datname } of extra) await cluster.admin(`DROP DATABASE "${datname}" WITH (FORCE)`);
    await stack?.dispose();
    if (runner) docker("rm", "-f", runner);
    await cluster.stop();
    await s3.stop();
    if (backupDir) {
        spawnSync("umount", [backupDir]);
        fs.rmSync(backupDir, { recursive: true, force: true });
    }
});

/** The keys of an app's backups in the bucket, without the prefix. */
const bucketKeys = (app: string) => s3.keys(BUCKET, `lab/${app}/`).map((k) => k.slice(`lab/${app}/`.length));
/** The runner's S3 credentials file, as the stack uploaded it. */
const runnerFile = (file: string) => docker("exec", runner, "cat", file).stdout;
const writeRunnerFile = (file: string, content: string) =>
    spawnSync("docker", ["exec", "-i", "-u", "root", runner, "sh", "-c", `cat > ${file}`], { input: content, encoding: "utf8" });

describe("the backup runner", () => {
    it("runs as a least-privilege role counted in the budget", async () => {
        const [role] = await cluster.admin(
            `SELECT rolsuper, rolcreaterole, rolcreatedb, rolconnlimit, pg_has_role(oid, 'pg_read_all_data', 'USAGE') AS reads,
                    pg_has_role(oid, 'pg_write_all_data', 'USAGE') AS writes
               FROM pg_roles WHERE rolname = 'app_databases_backup'`,
        );
        expect(role).toEqual({ rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolconnlimit: 2, reads: true, writes: false });
        // The budgets output keys its entries by name (program/keyedOutputs.ts).
        const entries = budgetEntries(outputs.budgets.local);
        expect(entries).toContainEqual(expect.objectContaining({ name: "app_databases_backup", connections: 2 }));
        expect(outputs.backup).toMatchObject({ directory: backupDir, timeZone: "Europe/Paris", roles: { local: "app_databases_backup" } });
        expect(Object.keys(outputs.backup.apps).sort()).toEqual(["alpha", "beta", "gamma"]);
    });

    it("backs up every app, publishes each with a manifest of the snapshot's counts, and the drill passes", () => {
        const run = backupNow();
        expect(run.status, run.stderr).toBe(0);
        for (const app of ["alpha", "beta", "gamma"]) {
            const id = idIn(run.stdout, app);
            expect(published(app)).toEqual([id]);
            const manifest = manifestOf(app, id);
            expect(manifest).toMatchObject({ app, database: app, server: "local", major: 15, format: "custom", file: `${app}.dump` });
            expect(manifest.size).toBe(fs.statSync(path.join(backupDir, app, id, `${app}.dump`)).size);
            expect(manifest.sha256).toMatch(/^[0-9a-f]{64}$/);
            expect(drillOf(app, id)).toMatchObject({
                status: "passed",
                message: expect.stringContaining("counts and checksums equal the manifest"),
            });
        }
        const alpha = manifestOf("alpha", idIn(run.stdout, "alpha"));
        expect(alpha.tables.map((t: any) => [t.schema, t.table, t.rows])).toEqual([
            ["public", "customers", 40],
            ["sales", "orders", 120],
        ]);
        // Nothing half-written is left next to the published backups.
        expect(fs.readdirSync(path.join(backupDir, "alpha")).filter((n) => n.startsWith("."))).toEqual([]);
        // The same files in the bucket, published from under .partial-<id> (gone now).
        const alphaId = idIn(run.stdout, "alpha");
        expect(bucketKeys("alpha")).toEqual(
            [`${alphaId}/alpha.dump`, `${alphaId}/drill.json`, `${alphaId}/manifest.json`, `${alphaId}/tables.tsv`].sort(),
        );
        const listedTargets = runnerCommand("list")
            .stdout.split("\n")
            .filter((l) => l.startsWith(`alpha\t${alphaId}\t`))
            .map((l) => [l.split("\t")[2], l.split("\t")[7], l.split("\t")[8]]);
        expect(listedTargets).toEqual([
            ["passed", path.posix.join("/backups/main/alpha", alphaId, "alpha.dump"), "main"],
            ["passed", `s3://${BUCKET}/lab/alpha/${alphaId}/alpha.dump`, "offsite"],
        ]);
        const check = runnerCommand("check");
        expect(check.status, check.stdout).toBe(0);
        expect(check.stdout).toContain(`ok: alpha: latest verified backup ${idIn(run.stdout, "alpha")}`);
        const status = JSON.parse(fs.readFileSync(path.join(backupDir, "status.json"), "utf8"));
        expect(status.apps.beta).toMatchObject({ latestGood: idIn(run.stdout, "beta"), latestDrill: "passed" });
    });

    it("catches a truncated and a bit-flipped archive in the drill and never offers them as the latest good", () => {
        const good = published("beta").at(-1)!;
        const run = backupNow("beta");
        expect(run.status).toBe(0);
        const id = idIn(run.stdout, "beta");
        const archive = path.join(backupDir, "beta", id, "beta.dump");
        const bytes = fs.readFileSync(archive);

        // Flipped after its manifest was written: the sha256 differs.
        const flipped = Buffer.from(bytes);
        flipped[Math.floor(bytes.length / 2)] ^= 0x40;
        fs.writeFileSync(archive, flipped);
        let drill = runnerCommand("drill", "beta", id);
        expect(drill.status).toBe(1);
        expect(drill.stdout).toMatch(/^archive sha256 [0-9a-f]{64} differs from the manifest's [0-9a-f]{64}/);

        // Cut short before its manifest was written (the manifest's sha256 is the short file's):
        // Only a full restore reads it to the end.
        const short = bytes.subarray(0, Math.floor(bytes.length * 0.8));
        fs.writeFileSync(archive, short);
        const manifestFile = path.join(backupDir, "beta", id, "manifest.json");
        const sha = execFileSync("sha256sum", [archive], { encoding: "utf8" }).split(" ")[0];
        fs.writeFileSync(manifestFile, fs.readFileSync(manifestFile, "utf8").replace(/"sha256": "[0-9a-f]+"/, `"sha256": "${sha}"`));
        drill = runnerCommand("drill", "beta", id);
        expect(drill.status).toBe(1);
        expect(drill.stdout).toContain("pg_restore failed: pg_restore: error: could not read from input file: end of file");
        expect(drillOf("beta", id)).toMatchObject({ status: "failed" });

        // On the directory target, where the archive was damaged (the bucket's copy is intact).
        const listed = runnerCommand("list")
            .stdout.split("\n")
            .filter((l) => l.startsWith("beta\t") && l.split("\t")[8] === "main");
        expect(listed.map((l) => l.split("\t").slice(1, 3))).toEqual([
            [good, "passed"],
            [id, "failed"],
        ]);
        expect(runnerCommand("check").stdout).toContain(`ok: beta: latest verified backup ${good}`);
    });

    it("keeps what retention asks for: gamma keeps its last two", () => {
        for (let i = 0; i < 2; i++) {
            // Backup ids are per second.
            execFileSync("sleep", ["1.1"]);
            expect(backupNow("gamma").status).toBe(0);
        }
        const ids = published("gamma");
        expect(ids).toHaveLength(2);
        // And in the bucket: the same two generations.
        expect([...new Set(bucketKeys("gamma").map((k) => k.split("/")[0]))]).toEqual(ids);
    });

    it("says the S3 target's bucket is missing, naming the target, and publishes nothing anywhere", () => {
        const before = published("alpha");
        const keysBefore = bucketKeys("alpha");
        s3.deleteBucket(BUCKET);
        try {
            const run = backupNow("alpha");
            expect(run.status).toBe(1);
            expect(run.stdout).toContain(
                `alpha\tfailed\t\tbackup failed: target offsite (s3 bucket ${BUCKET} at ${s3.endpoint}, prefix lab/): bucket ${BUCKET} does not exist at ${s3.endpoint} (NoSuchBucket): create it, or fix the target's bucket; nothing was published`,
            );
            expect(published("alpha")).toEqual(before);
            expect(runnerCommand("check").stdout).toContain(`FAILED: target offsite (s3 bucket ${BUCKET} at ${s3.endpoint}, prefix lab/)`);
        } finally {
            s3.createBucket(BUCKET);
        }
        expect(keysBefore.length).toBeGreaterThan(0);
        expect(bucketKeys("alpha")).toEqual([]);
    });

    it("says the S3 target's credentials are refused, naming the target, and publishes nothing anywhere", () => {
        const before = published("alpha");
        const original = runnerFile("/etc/app-databases/s3.tsv");
        // As after the keys were rotated on the storage side and not in the stack.
        writeRunnerFile("/etc/app-databases/s3.tsv", original.replace(/\t[^\t\n]+\n$/, "\tnot-the-secret\n"));
        try {
            const run = backupNow("alpha");
            expect(run.status).toBe(1);
            expect(run.stdout).toContain(
                `alpha\tfailed\t\tbackup failed: target offsite (s3 bucket ${BUCKET} at ${s3.endpoint}, prefix lab/): access denied to bucket ${BUCKET} at ${s3.endpoint} (SignatureDoesNotMatch): check the target's access key id and secret key, and that they may read and write the bucket; nothing was published`,
            );
            expect(published("alpha")).toEqual(before);
            expect(bucketKeys("alpha")).toEqual([]);
        } finally {
            writeRunnerFile("/etc/app-databases/s3.tsv", original);
        }
        const again = backupNow("alpha");
        expect(again.status, again.stdout).toBe(0);
        expect(bucketKeys("alpha").filter((k) => k.endsWith("manifest.json"))).toEqual([`${idIn(again.stdout, "alpha")}/manifest.json`]);
    });

    it("says the target directory is full when it is, naming it, and publishes nothing", () => {
        const before = published("alpha");
        const filler = path.join(backupDir, "filler");
        // All the tmpfs but a few KiB: the dump cannot be written.
        const free = Number(execFileSync("df", ["-Pk", backupDir], { encoding: "utf8" }).split("\n")[1].split(/\s+/)[3]);
        execFileSync("fallocate", ["-l", `${(free - 8) * 1024}`, filler]);
        try {
            const run = backupNow("alpha");
            expect(run.status).toBe(1);
            const line = run.stdout.split("\n").find((l) => l.startsWith("alpha\t"))!;
            expect(line).toMatch(
                /^alpha\tfailed\t\d{8}T\d{6}Z\tbackup failed: (pg_dump of alpha failed|writing the manifest of alpha failed): .*No space left on device/,
            );
            expect(line).toContain(`(target main (${backupDir}) is full: `);
            expect(line).toMatch(/; nothing was published$/);
            expect(published("alpha")).toEqual(before);
            expect(fs.readdirSync(path.join(backupDir, "alpha")).filter((n) => n.startsWith("."))).toEqual([]);
        } finally {
            fs.rmSync(filler);
        }
    });

    it("leaves no published backup when the runner is killed mid-backup, and the next run clears what it left", async () => {
        // Big enough that the dump takes a moment to write.
        await queryUrl(
            url("gamma"),
            "CREATE TABLE bulk AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS body FROM generate_series(1, 150000) g",
        );
        try {
            const before = published("gamma");
            const child = spawn("docker", ["exec", runner, "app-databases-backup", "now", "gamma"], { stdio: "ignore" });
            const gammaDir = path.join(backupDir, "gamma");
            const deadline = Date.now() + 60_000;
            while (!fs.readdirSync(gammaDir).some((n) => n.startsWith(".partial-")) && Date.now() < deadline) {
                await new Promise((r) => setTimeout(r, 20));
            }
            expect(fs.readdirSync(gammaDir).some((n) => n.startsWith(".partial-"))).toBe(true);
            expect(docker("kill", runner).status).toBe(0);
            await new Promise((r) => child.once("exit", r));
            expect(published("gamma")).toEqual(before);
            expect(docker("start", runner).status).toBe(0);
            const run = backupNow("gamma");
            expect(run.status, run.stdout).toBe(0);
            expect(fs.readdirSync(gammaDir).filter((n) => n.startsWith("."))).toEqual([]);
            // The one new backup is the complete run's (retention keeps gamma's last two).
            expect(published("gamma").filter((id) => !before.includes(id))).toEqual([idIn(run.stdout, "gamma")]);
            expect(bucketKeys("gamma").filter((k) => k.includes(".partial-"))).toEqual([]);
        } finally {
            await queryUrl(url("gamma"), "DROP TABLE bulk");
        }
    });

    it("says which target directory it cannot write to, publishes nothing, and check fails", () => {
        const before = published("alpha");
        fs.chownSync(backupDir, 0, 0);
        fs.chmodSync(backupDir, 0o755);
        try {
            const run = backupNow("alpha");
            expect(run.status).toBe(1);
            const message = `target main (${backupDir}, mounted at /backups/main): not writable by uid ${RUNNER_UID} (the runner's user); make it writable by that uid`;
            expect(run.stdout).toContain(`alpha\tfailed\t\tbackup failed: ${message}; nothing was published`);
            const check = runnerCommand("check");
            expect(check.status).toBe(1);
            expect(check.stdout).toContain(`FAILED: ${message}`);
            expect(published("alpha")).toEqual(before);
        } finally {
            fs.chownSync(backupDir, RUNNER_UID, RUNNER_UID);
        }
        expect(backupNow("alpha").status).toBe(0);
        expect(runnerCommand("check").status).toBe(0);
    });
});

describe("restoring one app", () => {
    let alphaBackup: string;

    beforeAll(() => {
        const run = backupNow("alpha");
        expect(run.status, run.stdout).toBe(0);
        alphaBackup = idIn(run.stdout, "alpha");
    });

    it("refuses a backup whose drill failed, naming it, unless forced", () => {
        const failed = runnerCommand("list")
            .stdout.split("\n")
            .find((l) => l.startsWith("beta\t") && l.includes("\tfailed\t"))!
            .split("\t")[1];
        const r = restoreCli("beta", "--in-place", "--yes", "--backup", failed);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(
            `restore: backup beta/${failed}: its restore drill failed; choose another, or pass --force. Nothing was changed.`,
        );
    });

    it("refuses a backup from a newer major than the server before anything changes", async () => {
        const id = published("gamma").at(-1)!;
        const file = path.join(backupDir, "gamma", id, "manifest.json");
        const original = fs.readFileSync(file, "utf8");
        // As a backup taken on PostgreSQL 16 would read.
        fs.writeFileSync(file, original.replace('"major": 15,', '"major": 16,'));
        try {
            const before = await cluster.catalog();
            const r = restoreCli("gamma", "--to", "gamma_copy", "--yes", "--backup", id);
            expect(r.status).toBe(1);
            expect(r.stderr).toContain(
                `restore: backup gamma/${id} was taken from PostgreSQL 16; server local runs PostgreSQL 15, older: a dump is not restored into an older major. Nothing was changed.`,
            );
            expect(await cluster.catalog()).toEqual(before);
        } finally {
            fs.writeFileSync(file, original);
        }
    });

    it("refuses in place while the app has sessions, naming them", async () => {
        const session = new Client({ connectionString: url("alpha", "runtimeUrl"), application_name: "alpha-worker" });
        await session.connect();
        try {
            const pid = (await session.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
            const r = restoreCli("alpha", "--in-place", "--yes");
            expect(r.status).toBe(1);
            expect(r.stderr).toContain(
                `restore: database alpha has 1 session (pid ${pid} alpha_app "alpha-worker" from 127.0.0.1): stop them, or pass --terminate to end them. Nothing was changed.`,
            );
        } finally {
            await session.end();
        }
    });

    it("restores A in place: its dropped table is back, B and C keep their new rows, the replaced database is kept, A's roles log in", async () => {
        await queryUrl(url("alpha"), "DROP TABLE sales.orders");
        await queryUrl(url("beta"), "INSERT INTO public.customers SELECT g, 'late ' || g FROM generate_series(101, 105) g");
        await queryUrl(url("gamma"), "INSERT INTO notes VALUES (99, 'after the backup')");
        const started = new Date();

        const r = restoreCli("alpha", "--in-place", "--yes");
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toContain(`Restore alpha (database alpha on local) from backup ${alphaBackup}`);
        const replaced = /the replaced database is kept as (alpha_replaced_\d{12})/.exec(r.stdout)?.[1] ?? "";
        expect(replaced.slice(-12) >= started.toISOString().replace(/[-:T]/g, "").slice(0, 12)).toBe(true);

        expect(await count("alpha", "sales.orders")).toBe(120);
        expect(await count("alpha", "public.customers")).toBe(40);
        expect(await count("beta", "public.customers")).toBe(30);
        expect(await count("gamma", "notes")).toBe(11);
        // The replaced database is the one with the table dropped.
        const kept = await cluster.admin("SELECT to_regclass('sales.orders') AS t", [], replaced);
        expect(kept).toEqual([{ t: null }]);
        expect(await count("alpha", "public.customers", replaced)).toBe(40);

        // Same passwords, same powers: the runtime role reads and writes, the migrate role owns.
        expect(await queryUrl(url("alpha", "runtimeUrl"), "SELECT count(*)::int AS n FROM sales.orders")).toEqual([{ n: 120 }]);
        await queryUrl(url("alpha", "runtimeUrl"), "INSERT INTO public.customers (id, name) VALUES (1000, 'after the restore')");
        await expect(queryUrl(url("alpha", "runtimeUrl"), "CREATE TABLE sneaky (id int)")).rejects.toThrow(
            /permission denied for schema public/,
        );
        const [owner] = await cluster.admin(
            "SELECT pg_get_userbyid(datdba) AS db, (SELECT tableowner FROM pg_tables WHERE tablename = 'orders') AS orders FROM pg_database WHERE datname = 'alpha'",
            [],
            "alpha",
        );
        expect(owner).toEqual({ db: "alpha_migrate", orders: "alpha_migrate" });
        // The other apps' roles still cannot reach it.
        await expect(queryUrl(url("beta", "runtimeUrl").replace(/\/beta(\?|$)/, "/alpha$1"), "SELECT 1")).rejects.toThrow(
            /permission denied for database "?alpha"?/,
        );
        // The stack sees the restored database as the one it made.
        expect(stack.refreshedPlan()).toEqual([]);
    });

    it("restores from the S3 target when asked, after checking the download against its manifest", async () => {
        const r = restoreCli("alpha", "--to", "alpha_s3_copy", "--yes", "--target", "offsite", "--backup", alphaBackup);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toContain(`from backup ${alphaBackup} on target offsite`);
        expect(await count("alpha", "sales.orders", "alpha_s3_copy")).toBe(120);
    });

    it("restores into a new database to look at, leaving the app's own alone", async () => {
        const r = restoreCli("gamma", "--to", "gamma_copy", "--yes");
        expect(r.status, r.stderr).toBe(0);
        expect(await count("gamma", "notes", "gamma_copy")).toBe(10);
        expect(await count("gamma", "notes")).toBe(11);
    });
});
