/**
 * A move carries the data, on real servers with the real engine: an app with
 * 1000 rows in two schemas, a sequence in use and a view moves from one
 * shared server to another; rows, checksums and sequences are the same, the
 * runtime role works with the new outputs, and the old database is kept with
 * CONNECT blocked for the app's roles until allowMoveFrom is removed. A
 * target server lacking an extension the app uses is refused before anything
 * is copied, and the app keeps serving from the old database.
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fillAppData, fingerprint } from "../kit/appData";
import { connectUrl, queryUrl, TestCluster } from "../kit/postgres";
import { TestStack } from "../kit/stack";

const lab = new TestCluster();
const lab2 = new TestCluster();
/** PostgreSQL 17 (npm's embedded build): no old_snapshot extension. */
const bare = new TestCluster({ version: 17 });
let stack: TestStack;

type Apps = Record<string, { server: string; host: string; port: number; runtimeUrl: string; migrateUrl: string; database: string }>;

function config(shop: Record<string, unknown> = {}, legacy: Record<string, unknown> = {}) {
    return {
        servers: { lab: lab.serverConfig(), lab2: lab2.serverConfig(), bare: bare.serverConfig() },
        apps: {
            shop: { server: "lab", schemas: ["public", "ledger"], ...shop },
            legacy: { server: "lab", ...legacy },
        },
    };
}
const secrets = () => [
    { path: "servers.lab.admin.password", value: lab.adminPassword },
    { path: "servers.lab2.admin.password", value: lab2.adminPassword },
    { path: "servers.bare.admin.password", value: bare.adminPassword },
];

async function withUrl<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
    const client = await connectUrl(url);
    try {
        return await work(client);
    } finally {
        await client.end();
    }
}

const quiet = { onOutput: () => undefined };
let before: Apps;
let shopBefore: Record<string, unknown>;

beforeAll(async () => {
    await Promise.all([lab.start(), lab2.start(), bare.start()]);
    stack = await TestStack.create({ config: config(), secrets: secrets() });
    await stack.stack.up(quiet);
    before = (await stack.outputs()).apps as Apps;
    await withUrl(before.shop.migrateUrl, (c) => fillAppData(c));
    // The runtime role writes too: the sequence is in use.
    await withUrl(before.shop.runtimeUrl, (c) => c.query("INSERT INTO ledger.entries (item_id, amount) VALUES (1, 2.5)"));
    await lab.admin("CREATE EXTENSION old_snapshot", [], "legacy");
    await withUrl(before.legacy.migrateUrl, (c) => c.query("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')"));
    shopBefore = await withUrl(before.shop.migrateUrl, (c) => fingerprint(c));
}, 600_000);

afterAll(async () => {
    await stack?.dispose();
    await Promise.all([lab.stop(), lab2.stop(), bare.stop()]);
});

describe("moving an app to another shared server", () => {
    it("refuses the move until it is acknowledged, saying the data is copied and the old database kept", async () => {
        await stack.setConfig(config({ server: "lab2" }), secrets());
        let out = "";
        await expect(stack.stack.preview({ onOutput: (s) => (out += s) })).rejects.toThrow();
        expect(out.replace(/\s+/g, " ")).toContain(
            "apps.shop moves from lab (shared) to lab2 (shared): the up copies database shop into a new database on lab2, verifies it and switches the app's outputs to it; the old one stays on lab, CONNECT revoked from the app's roles, until you retire it",
        );
    });

    it("previews the acknowledged move with the database's size and the outputs that change", async () => {
        await stack.setConfig(config({ server: "lab2", allowMoveFrom: "lab" }), secrets());
        let out = "";
        await stack.stack.preview({ onOutput: (s) => (out += s) });
        const text = out.replace(/\s+/g, " ");
        expect(text).toMatch(/apps\.shop moves from lab to lab2: the up copies database shop \(\d+\.\d MiB\) into a new database there/);
        expect(text).toContain("switches the outputs (placement, server, host, port,");
        expect(text).toContain(
            "Writers: cutover: just before the snapshot, new logins of shop_migrate, shop_app to shop on lab are blocked and their sessions ended",
        );
        expect(text).toContain("shop-move-from-lab");
    });

    it("copies rows, checksums and sequences, and switches the outputs to the new server", async () => {
        // A session of the app on the old database: the cutover ends it.
        const open = await connectUrl(before.shop.runtimeUrl);
        open.on("error", () => undefined);
        await stack.stack.up(quiet);
        const outputs = await stack.outputs();
        const shop = (outputs.apps as Apps).shop;
        expect(shop.server).toBe("lab2");
        expect(shop.port).toBe(lab2.port);
        expect(await withUrl(shop.migrateUrl, (c) => fingerprint(c))).toEqual(shopBefore);
        expect((shopBefore.entries as { n: number }).n).toBe(601);
        expect(outputs.moves.shop).toMatchObject({
            from: "lab",
            to: "lab2",
            database: "shop",
            writers: "cutover",
            tables: 2,
            rows: 1001,
            verification: "verified",
        });
        // The runtime role works on the new database: reads, writes, the sequence goes on.
        const [next] = await withUrl(
            shop.runtimeUrl,
            async (c) => (await c.query("INSERT INTO ledger.entries (item_id, amount) VALUES (2, 1) RETURNING id::text")).rows,
        );
        expect(Number(next.id)).toBe(Number((shopBefore.sequence as { last_value: string }).last_value) + 1);
        expect(await queryUrl(shop.runtimeUrl, "SELECT count(*)::int AS n FROM public.item_totals")).toEqual([{ n: 400 }]);
        await expect(queryUrl(shop.runtimeUrl, "CREATE TABLE sneaky (id int)")).rejects.toThrow(/permission denied/);
        const owners = await lab2.admin(
            "SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'ledger')",
            [],
            "shop",
        );
        expect(owners).toEqual([{ owner: "shop_migrate" }]);
        // The old session was ended.
        await expect(open.query("SELECT 1")).rejects.toThrow();
    });

    it("keeps the old database with its data, CONNECT blocked for the app's roles", async () => {
        expect((await lab.catalog()).databases).toContain("shop");
        expect(await lab.admin("SELECT count(*)::int AS n FROM ledger.entries", [], "shop")).toEqual([{ n: 601 }]);
        await expect(queryUrl(before.shop.runtimeUrl, "SELECT 1")).rejects.toThrow(/permission denied for database "?shop"?/);
        await expect(queryUrl(before.shop.migrateUrl, "SELECT 1")).rejects.toThrow(/permission denied for database "?shop"?/);
    });

    it("changes nothing on a second up", async () => {
        const result = await stack.stack.up(quiet);
        const changes = Object.entries(result.summary.resourceChanges ?? {}).filter(([op]) => op !== "same");
        expect(changes).toEqual([]);
    });

    it("retires the old copy when allowMoveFrom is removed, leaving it on the old server", async () => {
        await stack.setConfig(config({ server: "lab2" }), secrets());
        await stack.stack.up(quiet);
        const outputs = await stack.outputs();
        expect(outputs.moves).toBeUndefined();
        expect(await lab.admin("SELECT count(*)::int AS n FROM ledger.entries", [], "shop")).toEqual([{ n: 601 }]);
        expect((await lab.catalog()).roles).toEqual(expect.arrayContaining(["shop_app", "shop_migrate"]));
        expect(await queryUrl((outputs.apps as Apps).shop.runtimeUrl, "SELECT count(*)::int AS n FROM ledger.entries")).toEqual([
            { n: 602 },
        ]);
    });
});

describe("a move the target server cannot take", () => {
    it("is refused before anything is copied, naming the extension, and the app keeps serving from the old database", async () => {
        await stack.setConfig(config({ server: "lab2" }, { server: "bare", allowMoveFrom: "lab" }), secrets());
        let out = "";
        await expect(stack.stack.up({ onOutput: (s) => (out += s) })).rejects.toThrow();
        const text = out.replace(/\s+/g, " ");
        expect(text).toMatch(
            /apps\.legacy: moving the data from lab to bare failed, and the old database legacy on lab is as it was \(still serving; the stack's outputs still point at it\): the target server 127\.0\.0\.1:\d+ lacks the extension old_snapshot that database legacy uses on 127\.0\.0\.1:\d+: install its package on the target server \(or drop it from the app\), then run again; nothing was copied/,
        );
        const outputs = await stack.outputs();
        expect((outputs.apps as Apps).legacy.server).toBe("lab");
        expect(await queryUrl((outputs.apps as Apps).legacy.runtimeUrl, "SELECT body FROM notes")).toEqual([{ body: "kept" }]);
        expect(
            await bare.admin("SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace", [], "legacy"),
        ).toEqual([{ n: 0 }]);
    });
});
