import { describe, expect, it } from "vitest";
import {
    clientMajor,
    commentOnDatabaseSql,
    copyMarker,
    DatabaseFigures,
    dumpArgs,
    figureDifferences,
    filterRestoreList,
    libpqEnv,
    missingExtensions,
    restorePipeline,
    tableFiguresSql,
} from "../../components/copyStatements";

const figures = (over: Partial<DatabaseFigures> = {}): DatabaseFigures => ({
    tables: [
        { schema: "public", table: "items", rows: 400, checksum: "123" },
        { schema: "ledger", table: "entries", rows: 600, checksum: "-45" },
    ],
    sequences: [{ schema: "ledger", name: "entry_ids", lastValue: "1600", isCalled: true }],
    largeObjects: { count: 1, checksum: "9" },
    ...over,
});

describe("figureDifferences", () => {
    it("finds none when the target's figures equal the source's", () => {
        expect(figureDifferences(figures(), figures())).toEqual([]);
    });

    it.each([
        [
            "a row missing",
            { tables: [{ schema: "public", table: "items", rows: 399, checksum: "123" }, figures().tables[1]] },
            "table public.items: 400 rows on the source, 399 on the target",
        ],
        [
            "a row changed",
            { tables: [{ schema: "public", table: "items", rows: 400, checksum: "124" }, figures().tables[1]] },
            "table public.items: checksums differ (123 on the source, 124 on the target)",
        ],
        ["a table missing", { tables: [figures().tables[0]] }, "table ledger.entries is missing on the target"],
        [
            "a table too many",
            { tables: [...figures().tables, { schema: "public", table: "extra", rows: 0, checksum: "0" }] },
            "table public.extra is on the target only",
        ],
        [
            "a sequence behind",
            { sequences: [{ schema: "ledger", name: "entry_ids", lastValue: "1", isCalled: true }] },
            "sequence ledger.entry_ids: 1600 on the source, 1 on the target",
        ],
        [
            "a sequence not called",
            { sequences: [{ schema: "ledger", name: "entry_ids", lastValue: "1600", isCalled: false }] },
            "sequence ledger.entry_ids: 1600 on the source, 1600 (not called) on the target",
        ],
        ["a sequence missing", { sequences: [] }, "sequence ledger.entry_ids is missing on the target"],
        [
            "a large object missing",
            { largeObjects: { count: 0, checksum: "0" } },
            "large objects: 1 (checksum 9) on the source, 0 (checksum 0) on the target",
        ],
    ])("names %s", (_what, target, line) => {
        expect(figureDifferences(figures(), figures(target))).toEqual([line]);
    });

    it("accepts a sequence the source advanced during the dump, within what it read before and after", () => {
        const after = [{ schema: "ledger", name: "entry_ids", lastValue: "1700", isCalled: true }];
        const target = figures({ sequences: [{ schema: "ledger", name: "entry_ids", lastValue: "1650", isCalled: true }] });
        expect(figureDifferences(figures(), target, after)).toEqual([]);
        const beyond = figures({ sequences: [{ schema: "ledger", name: "entry_ids", lastValue: "1701", isCalled: true }] });
        expect(figureDifferences(figures(), beyond, after)).toHaveLength(1);
    });
});

describe("filterRestoreList", () => {
    const list = [
        ";",
        "; Archive created at 2026-12-07 16:30:00 UTC",
        "6; 2615 16390 SCHEMA - ledger shop_migrate",
        "7; 2615 16391 SCHEMA - audit shop_migrate",
        "2; 3079 16400 EXTENSION - pgcrypto ",
        "3545; 0 0 COMMENT - EXTENSION pgcrypto ",
        "218; 1259 16402 TABLE public items shop_migrate",
    ].join("\n");

    it("comments out the schemas the target has already and the comments on extensions", () => {
        expect(filterRestoreList(list, ["public", "ledger"]).split("\n")).toEqual([
            ";",
            "; Archive created at 2026-12-07 16:30:00 UTC",
            ";6; 2615 16390 SCHEMA - ledger shop_migrate",
            "7; 2615 16391 SCHEMA - audit shop_migrate",
            "2; 3079 16400 EXTENSION - pgcrypto ",
            ";3545; 0 0 COMMENT - EXTENSION pgcrypto ",
            "218; 1259 16402 TABLE public items shop_migrate",
        ]);
    });
});

describe("the client tools' arguments", () => {
    it("dump in the snapshot without owners or privileges, custom format by default", () => {
        expect(dumpArgs("00000003-0000001B-1", "/tmp/a.dump")).toEqual([
            "--snapshot=00000003-0000001B-1",
            "--no-owner",
            "--no-privileges",
            "--no-password",
            "--format=custom",
            "--file=/tmp/a.dump",
        ]);
        expect(dumpArgs("s", "/tmp/a.dir", 4)).toContain("--jobs=4");
        expect(dumpArgs("s", "/tmp/a.dir", 4)).toContain("--format=directory");
    });

    it("restore as the owner role in one transaction, the paths and names passed as parameters", () => {
        const { file, argv } = restorePipeline("/opt/pg/bin", "/tmp/a.dump", "/tmp/list", "shop", "shop_migrate", false);
        expect(file).toBe("bash");
        expect(argv.slice(2)).toEqual([
            "restore",
            "/opt/pg/bin",
            "shop",
            "--no-owner",
            "--no-privileges",
            "--role=shop_migrate",
            "--single-transaction",
            "--use-list=/tmp/list",
            "--file=-",
            "/tmp/a.dump",
        ]);
        expect(argv[1]).toContain("set -o pipefail");
        expect(argv[1]).toContain("ON_ERROR_STOP=1");
        expect(argv[1]).not.toContain("shop");
        expect(restorePipeline("/b", "/a", "/l", "shop", "shop_migrate", true).argv).toEqual(
            expect.arrayContaining(["--clean", "--if-exists"]),
        );
    });

    it("passes the password in the environment", () => {
        const env = libpqEnv({ host: "db", port: 5433, user: "postgres", password: "s3cret", database: "shop" });
        expect(env).toMatchObject({ PGHOST: "db", PGPORT: "5433", PGPASSWORD: "s3cret", PGDATABASE: "shop", PGSSLMODE: "prefer" });
    });
});

describe("the SQL", () => {
    it("quotes the table it reads figures from", () => {
        expect(tableFiguresSql('led"ger', "items")).toContain('FROM "led""ger"."items" app_databases_row');
    });

    it("quotes the marker comment", () => {
        expect(commentOnDatabaseSql("shop", "it's")).toBe(`COMMENT ON DATABASE "shop" IS 'it''s'`);
        expect(commentOnDatabaseSql("shop", null)).toBe('COMMENT ON DATABASE "shop" IS NULL');
        expect(copyMarker({ host: "lab", port: 5432, database: "shop" })).toBe("app-databases: copy of lab:5432/shop in progress");
    });
});

describe("clientMajor", () => {
    it.each([
        ["pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)", 15],
        ["pg_restore (PostgreSQL) 18.1", 18],
    ])("reads %s", (text, major) => expect(clientMajor(text)).toBe(major));

    it("throws when the text has no version", () => {
        expect(() => clientMajor("bash: pg_dump: not found")).toThrow(
            'cannot read the client tools\' version from "bash: pg_dump: not found"',
        );
    });
});

describe("missingExtensions", () => {
    it("names the extensions the target server cannot create", () => {
        expect(missingExtensions(["pgcrypto", "old_snapshot"], ["pgcrypto", "citext"])).toEqual(["old_snapshot"]);
    });
});
