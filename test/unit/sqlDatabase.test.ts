/** The text of the statements for a database, its CONNECT lock and its schemas (components/sql/database.ts, schemas.ts). */
import { describe, expect, it } from "vitest";
import {
    alterDatabaseOwner,
    connectLockStatements,
    createDatabase,
    databaseQuery,
    dropDatabase,
    restorePublicConnect,
    revokeConnect,
} from "../../components/sql/database";
import {
    createSchema,
    createsInPublicQuery,
    grantOnSchema,
    revokeOnSchema,
    revokePublicSchemaCreate,
    schemasQuery,
    schemaUsageQuery,
} from "../../components/sql/schemas";

describe("a database", () => {
    it("is made from template0 in UTF8, owned by its owner", () => {
        expect(createDatabase("shop", "shop_migrate")).toBe(
            'CREATE DATABASE "shop" OWNER "shop_migrate" TEMPLATE template0 ENCODING \'UTF8\'',
        );
    });

    it("is dropped with the sessions in it", () => {
        expect(dropDatabase('we"ird')).toBe('DROP DATABASE "we""ird" WITH (FORCE)');
    });

    it("is given to another owner", () => {
        expect(alterDatabaseOwner("legacy", "legacy_migrate")).toBe('ALTER DATABASE "legacy" OWNER TO "legacy_migrate"');
    });

    it("is read by a bound name", () => {
        expect(databaseQuery("shop")).toEqual({
            text: "SELECT datacl::text[] AS acl, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1",
            values: ["shop"],
        });
    });
});

describe("the CONNECT lock", () => {
    it("grants before it revokes, and keeps the admin's CONNECT when asked", () => {
        expect(connectLockStatements({ database: "shop", grantees: ["shop_app", "shop_migrate"], keepAdmin: true })).toEqual([
            'GRANT CONNECT, TEMPORARY ON DATABASE "shop" TO "shop_app", "shop_migrate"',
            'GRANT CONNECT ON DATABASE "shop" TO CURRENT_USER',
            'REVOKE ALL ON DATABASE "shop" FROM PUBLIC',
        ]);
    });

    it("revokes from each role that no longer connects, last", () => {
        expect(connectLockStatements({ database: "shop", grantees: ["shop_app"], removed: ["old_app", "older"] })).toEqual([
            'GRANT CONNECT, TEMPORARY ON DATABASE "shop" TO "shop_app"',
            'REVOKE ALL ON DATABASE "shop" FROM PUBLIC',
            'REVOKE CONNECT, TEMPORARY ON DATABASE "shop" FROM "old_app"',
            'REVOKE CONNECT, TEMPORARY ON DATABASE "shop" FROM "older"',
        ]);
    });

    it("only revokes from PUBLIC when nobody is to connect (a system database)", () => {
        expect(connectLockStatements({ database: "postgres", grantees: [] })).toEqual(['REVOKE ALL ON DATABASE "postgres" FROM PUBLIC']);
    });

    it("is undone for PUBLIC, and taken back from its grantees", () => {
        expect(restorePublicConnect("template1")).toBe('GRANT CONNECT, TEMPORARY ON DATABASE "template1" TO PUBLIC');
        expect(revokeConnect("shared", ["a", "b"])).toBe('REVOKE CONNECT, TEMPORARY ON DATABASE "shared" FROM "a", "b"');
    });
});

describe("schemas", () => {
    it("are made if missing, owned by the owner", () => {
        expect(createSchema("sales", "shop_migrate")).toBe('CREATE SCHEMA IF NOT EXISTS "sales" AUTHORIZATION "shop_migrate"');
    });

    it("grant and revoke the privileges named, in their order", () => {
        expect(grantOnSchema(["USAGE"], "sales", "shop_app")).toBe('GRANT USAGE ON SCHEMA "sales" TO "shop_app"');
        expect(grantOnSchema(["USAGE", "CREATE"], 'we"ird', "x")).toBe('GRANT USAGE, CREATE ON SCHEMA "we""ird" TO "x"');
        expect(grantOnSchema(["CREATE", "USAGE"], "public", "shop_migrate")).toBe(
            'GRANT CREATE, USAGE ON SCHEMA "public" TO "shop_migrate"',
        );
        expect(revokeOnSchema(["USAGE"], "sales", "old_app")).toBe('REVOKE USAGE ON SCHEMA "sales" FROM "old_app"');
    });

    it("take CREATE in public from PUBLIC", () => {
        expect(revokePublicSchemaCreate()).toBe("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    });

    it("are read with the names bound, never written into the text", () => {
        expect(schemasQuery(["sales", "x'y"]).values).toEqual([["sales", "x'y"]]);
        expect(schemasQuery(["x'y"]).text).not.toContain("x'y");
        expect(schemaUsageQuery(["sales"]).values).toEqual([["sales"]]);
        expect(createsInPublicQuery("shop_migrate").values).toEqual(["shop_migrate"]);
    });
});
