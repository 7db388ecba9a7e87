import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { copyEndpoint, dataMoveProvider, grantConnectSql, moveIdentity, revokeConnectSql } from "../../components/dataMove";
import { parseStackConfig } from "../../program/config";
import { moveNotice, plannedMoves } from "../../program/moves";
import { clientBinCandidates, clientMajor, findClientBin } from "../../program/clientTools";
import { ADMIN_CONNECTION } from "./fixtures";

const server = (host: string) => ({ host, admin: { username: "postgres", password: "pw", superuser: true } });
const config = (shop: Record<string, unknown>) =>
    parseStackConfig({ servers: { lab: server("lab"), lab2: server("lab2") }, apps: { shop: { server: "lab", ...shop } } });
const lastUp = (apps: Record<string, unknown>, moves?: Record<string, unknown>) => ({ apps, ...(moves ? { moves } : {}) });

describe("plannedMoves", () => {
    it("plans a move the last up had the app on the old server for", () => {
        const { moves, problems } = plannedMoves(
            config({ server: "lab2", allowMoveFrom: "lab" }),
            lastUp({ shop: { server: "lab", database: "shop" } }),
        );
        expect(problems).toEqual([]);
        expect(moves.map((m) => [m.app.name, m.from, m.database, m.done, m.app.moveWriters])).toEqual([
            ["shop", "lab", "shop", false, "cutover"],
        ]);
    });

    it("holds a finished move while allowMoveFrom stays", () => {
        const { moves } = plannedMoves(
            config({ server: "lab2", allowMoveFrom: "lab" }),
            lastUp({ shop: { server: "lab2", database: "shop" } }, { shop: { from: "lab", to: "lab2", database: "shop" } }),
        );
        expect(moves.map((m) => m.done)).toEqual([true]);
    });

    it.each([
        ["the app is on the server it names", { server: "lab", allowMoveFrom: "lab" }, lastUp({ shop: { server: "lab" } })],
        ["the app never lived there", { server: "lab2", allowMoveFrom: "lab" }, lastUp({})],
        ["no acknowledgement", { server: "lab2" }, lastUp({ shop: { server: "lab" } })],
    ])("plans nothing when %s", (_what, shop, previous) => {
        expect(plannedMoves(config(shop), previous)).toEqual({ moves: [], problems: [] });
    });

    it("refuses a move off a dedicated container, saying it is not carried yet", () => {
        const { problems } = plannedMoves(
            config({ server: "lab2", allowMoveFrom: "dedicated-shop" }),
            lastUp({ shop: { server: "dedicated-shop", database: "shop" } }),
        );
        expect(problems).toEqual([
            expect.stringContaining(
                "apps.shop moves off its dedicated container dedicated-shop: carrying the data off a dedicated container is not supported yet",
            ),
        ]);
    });

    it("refuses a move whose old server is gone from servers", () => {
        const c = parseStackConfig({ servers: { lab2: server("lab2") }, apps: { shop: { server: "lab2", allowMoveFrom: "lab" } } });
        const { problems } = plannedMoves(c, lastUp({ shop: { server: "lab", database: "shop" } }));
        expect(problems).toEqual([
            expect.stringContaining("apps.shop.allowMoveFrom: lab: the server lab must stay in servers until the move is retired"),
        ]);
    });

    it("refuses a move that renames the database", () => {
        const { problems } = plannedMoves(
            config({ server: "lab2", allowMoveFrom: "lab", database: "shop2" }),
            lastUp({ shop: { server: "lab", database: "shop" } }),
        );
        expect(problems).toEqual([expect.stringContaining("its database changes from shop to shop2: a move keeps the database's name")]);
    });
});

describe("moveNotice", () => {
    const [move] = plannedMoves(
        config({ server: "lab2", allowMoveFrom: "lab" }),
        lastUp({ shop: { server: "lab", database: "shop" } }),
    ).moves;
    it("says the size, the outputs that change and what happens to writers", () => {
        const text = moveNotice(move, 8 * 1024 * 1024, ["shop_migrate", "shop_app"]);
        expect(text).toContain("apps.shop moves from lab to lab2: the up copies database shop (8.0 MiB)");
        expect(text).toContain("switches the outputs (placement, server, host, port,");
        expect(text).toContain("new logins of shop_migrate, shop_app to shop on lab are blocked and their sessions ended");
    });
    it("says writes after the snapshot are not carried with moveWriters: keep", () => {
        const [keep] = plannedMoves(
            config({ server: "lab2", allowMoveFrom: "lab", moveWriters: "keep" }),
            lastUp({ shop: { server: "lab", database: "shop" } }),
        ).moves;
        expect(moveNotice(keep, undefined, ["shop_app"])).toContain("(size unknown)");
        expect(moveNotice(keep, undefined, ["shop_app"])).toContain("writes after the snapshot are NOT carried");
    });
});

describe("the client tools of a move", () => {
    it("prefers APP_DATABASES_PG_CLIENT_BIN, then the cached PostgreSQL 18 tools", () => {
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "moves-cache-"));
        const bin = path.join(cache, "client-18.6.3", "embedded_postgres", "pginstall", "bin");
        fs.mkdirSync(bin, { recursive: true });
        for (const tool of ["pg_dump", "pg_restore", "psql"]) fs.writeFileSync(path.join(bin, tool), "");
        expect(clientBinCandidates({ APP_DATABASES_PG_CLIENT_BIN: "/opt/pg/bin", APP_DATABASES_PG_CACHE: cache }).slice(0, 2)).toEqual([
            "/opt/pg/bin",
            bin,
        ]);
        expect(findClientBin({ APP_DATABASES_PG_CLIENT_BIN: "/nowhere", APP_DATABASES_PG_CACHE: cache })).toBe(bin);
        fs.rmSync(cache, { recursive: true, force: true });
    });
});

describe("the client tools' major", () => {
    // Debian's PostgreSQL, which scripts/setup.sh installs for the tests' servers.
    const debian = fs.existsSync("/usr/lib/postgresql") ? fs.readdirSync("/usr/lib/postgresql").filter((v) => /^\d+$/.test(v)) : [];
    it.skipIf(debian.length === 0)("is read from pg_dump --version, and tools older than asked for are passed over", () => {
        const bin = `/usr/lib/postgresql/${debian[0]}/bin`;
        expect(clientMajor(bin)).toBe(Number(debian[0]));
        const empty = fs.mkdtempSync(path.join(os.tmpdir(), "moves-cache-"));
        const env = { APP_DATABASES_PG_CLIENT_BIN: bin, APP_DATABASES_PG_CACHE: empty };
        expect(findClientBin(env, Number(debian[0]))).toBe(bin);
        expect(findClientBin(env, 99)).toBeUndefined();
        fs.rmSync(empty, { recursive: true, force: true });
    });
});

describe("DataMove", () => {
    const end = (server: string, host: string) => ({ server, connection: { ...ADMIN_CONNECTION, host }, database: "shop" });
    const inputs = {
        app: "shop",
        from: end("lab", "a"),
        to: end("lab2", "b"),
        ownerRole: "shop_migrate",
        roles: ["shop_migrate", "shop_app"],
        writers: "cutover" as const,
        clientBin: "/bin",
    };

    it("reaches each end as its admin", () => {
        expect(copyEndpoint(inputs.from)).toEqual({
            host: "a",
            port: 5432,
            user: "admin",
            password: "pw",
            database: "shop",
            sslmode: "disable",
            connectTimeoutSeconds: 10,
        });
    });

    it("is another move only when its source or target is", async () => {
        const same = await dataMoveProvider.diff!(
            "id",
            { ...inputs, report: {} as never, movedAt: "t" },
            { ...inputs, clientBin: "/other", from: { ...inputs.from, connection: { ...inputs.from.connection, password: "new" } } },
        );
        expect(same.changes).toBe(false);
        const other = await dataMoveProvider.diff!(
            "id",
            { ...inputs, report: {} as never, movedAt: "t" },
            { ...inputs, to: end("lab3", "c") },
        );
        expect(other).toMatchObject({ changes: true, replaces: ["from", "to"] });
        expect(moveIdentity(inputs)).toBe("shop lab:a:5432/shop -> lab2:b:5432/shop");
    });

    it("blocks and gives back CONNECT by quoted names", () => {
        expect(revokeConnectSql("shop", ["shop_app", "shop_migrate"])).toBe(
            'REVOKE CONNECT ON DATABASE "shop" FROM "shop_app", "shop_migrate"',
        );
        expect(grantConnectSql("shop", ["shop_app"])).toBe('GRANT CONNECT ON DATABASE "shop" TO "shop_app"');
    });
});
