/**
 * The copy engine (components/databaseCopy.ts) on real servers: a database
 * copied between two throwaway clusters keeps its rows, sequences, view and
 * large objects, owned by the migrate role; a target that is not new is never
 * wiped, an unfinished attempt of the same copy is started over, and a target
 * lacking an extension is refused before anything is copied.
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyDatabase, CopyDatabaseArgs, CopyEndpoint } from "../../components/databaseCopy";
import { commentOnDatabaseSql, copyMarker } from "../../components/copyStatements";
import { installClientTools } from "../../scripts/pgClientTools";
import { fillAppData, fingerprint } from "../kit/appData";
import { TestCluster } from "../kit/postgres";

const source = new TestCluster();
const target = new TestCluster();
/** PostgreSQL 17 (npm's embedded build): it lacks Debian's old_snapshot extension. */
const newer = new TestCluster({ version: 17 });
let clientBin: string;

const endpoint = (c: TestCluster, database: string): CopyEndpoint => ({
    host: "127.0.0.1",
    port: c.port,
    user: c.adminUser,
    password: c.adminPassword,
    database,
    sslmode: "disable",
});

/** Copies `database` from one cluster to the other as the admin, into shop_migrate's hands. */
const copy = (from: TestCluster, to: TestCluster, database: string, extra: Partial<CopyDatabaseArgs> = {}) =>
    copyDatabase({ source: endpoint(from, database), target: endpoint(to, database), ownerRole: "shop_migrate", clientBin, ...extra });

async function asMigrate<T>(c: TestCluster, database: string, work: (client: Client) => Promise<T>): Promise<T> {
    const client = new Client(c.clientConfig(c.adminUser, c.adminPassword, database));
    await client.connect();
    try {
        await client.query("SET ROLE shop_migrate");
        return await work(client);
    } finally {
        await client.end();
    }
}

/** A new empty database owned by shop_migrate, as DatabaseAccess makes one. */
async function newDatabase(c: TestCluster, name: string): Promise<void> {
    await c.admin(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'shop_migrate') THEN CREATE ROLE shop_migrate LOGIN; END IF; END $$",
    );
    await c.admin(`CREATE DATABASE ${name} OWNER shop_migrate`);
    await c.admin(`CREATE SCHEMA ledger AUTHORIZATION shop_migrate`, [], name);
}

beforeAll(async () => {
    clientBin = installClientTools();
    await Promise.all([source.start(), target.start(), newer.start()]);
    await newDatabase(source, "shop");
    await asMigrate(source, "shop", (c) => fillAppData(c));
    // Sequences in use: values past their start, one never called.
    await asMigrate(source, "shop", (c) => c.query("SELECT nextval('ledger.entry_ids'); CREATE SEQUENCE public.unused_ids"));
}, 300_000);

afterAll(async () => {
    await Promise.all([source.stop(), target.stop(), newer.stop()]);
});

describe("copyDatabase", () => {
    it("copies rows, sequences, the view and large objects, owned by the migrate role, and verifies them", async () => {
        await newDatabase(target, "shop");
        const report = await copy(source, target, "shop");
        expect(report.verification).toBe("verified");
        expect(report.tableCount).toBe(2);
        expect(report.rowCount).toBe(1000);
        expect(report.figures.sequences.map((s) => `${s.schema}.${s.name}`)).toEqual([
            "ledger.entry_ids",
            "public.items_id_seq",
            "public.unused_ids",
        ]);
        expect(report.figures.largeObjects.count).toBe(1);
        expect(report.startedOver).toBe(false);
        expect(report.sourceBytes).toBeGreaterThan(0);

        const before = await asMigrate(source, "shop", (c) => fingerprint(c));
        const after = await asMigrate(target, "shop", (c) => fingerprint(c));
        expect(after).toEqual(before);
        expect((before.entries as { n: number }).n).toBe(600);
        const owners = await target.admin<{ owner: string }>(
            "SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'ledger')",
            [],
            "shop",
        );
        expect(owners).toEqual([{ owner: "shop_migrate" }]);
        // The next ids continue where the source's would.
        const next = async (c: TestCluster) =>
            asMigrate(c, "shop", async (cl) => (await cl.query("SELECT nextval('ledger.entry_ids')::text AS v")).rows[0].v);
        expect(await next(target)).toBe(await next(source));
        const marker = await target.admin("SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = 'shop'");
        expect(marker).toEqual([{ c: null }]);
    });

    it("throws when the target holds data that did not come from this copy, and leaves it as it is", async () => {
        const attempt = copy(source, target, "shop");
        await expect(attempt).rejects.toThrow(
            /the target database shop on 127\.0\.0\.1:\d+ is not empty \(\d+ objects\) and did not come from an unfinished copy/,
        );
        const rows = await target.admin("SELECT count(*)::int AS n FROM ledger.entries", [], "shop");
        expect(rows).toEqual([{ n: 600 }]);
    });

    it("starts an unfinished attempt of the same copy over", async () => {
        // What a copy killed after its restore leaves: the data, a row gone, and its marker.
        await target.admin("DELETE FROM ledger.entries WHERE id = (SELECT min(id) FROM ledger.entries)", [], "shop");
        await target.admin(commentOnDatabaseSql("shop", copyMarker(endpoint(source, "shop"))));
        const report = await copy(source, target, "shop");
        expect(report.startedOver).toBe(true);
        expect(await asMigrate(target, "shop", (c) => fingerprint(c))).toEqual(await asMigrate(source, "shop", (c) => fingerprint(c)));
    });

    it("copies to a newer major with pg_dump of a major at least both servers'", async () => {
        await newDatabase(newer, "shop");
        const report = await copy(source, newer, "shop", { jobs: 2 });
        expect(Math.floor(report.target.serverVersionNum / 10000)).toBe(17);
        expect(await asMigrate(newer, "shop", (c) => fingerprint(c))).toEqual(await asMigrate(source, "shop", (c) => fingerprint(c)));
    });

    it("throws naming the extension when the target server lacks one the database uses, before anything is copied", async () => {
        await source.admin("CREATE DATABASE old_shop OWNER shop_migrate");
        await source.admin("CREATE EXTENSION old_snapshot", [], "old_shop");
        await asMigrate(source, "old_shop", (c) => c.query("CREATE TABLE t (id int); INSERT INTO t VALUES (1)"));
        await newer.admin("CREATE DATABASE old_shop OWNER shop_migrate");
        const attempt = copy(source, newer, "old_shop");
        await expect(attempt).rejects.toThrow(
            /^the target server 127\.0\.0\.1:\d+ lacks the extension old_snapshot that database old_shop uses on 127\.0\.0\.1:\d+: install its package on the target server \(or drop it from the app\), then run again; nothing was copied$/,
        );
        const left = await newer.admin<{ n: number; c: string | null }>(
            "SELECT (SELECT count(*)::int FROM pg_class WHERE relnamespace = 'public'::regnamespace) AS n, shobj_description((SELECT oid FROM pg_database WHERE datname = 'old_shop'), 'pg_database') AS c",
            [],
            "old_shop",
        );
        expect(left).toEqual([{ n: 0, c: null }]);
    });

    it("throws when the client tools are older than a server", async () => {
        const attempt = copy(source, newer, "shop", { clientBin: "/usr/lib/postgresql/15/bin" });
        await expect(attempt).rejects.toThrow(
            /the client tools in \/usr\/lib\/postgresql\/15\/bin are PostgreSQL 15, older than the target server \(17\)/,
        );
    });
});
