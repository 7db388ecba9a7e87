/** The text of the statements for login roles (components/sql/roles.ts) and default privileges (sql/defaultPrivileges.ts). */
import { describe, expect, it } from "vitest";
import { alterDefaultPrivileges, defaultPrivilegesQuery, DefaultPrivilegeEntry } from "../../components/sql/defaultPrivileges";
import { CURRENT_USER } from "../../components/sql/quote";
import {
    commentOnRole,
    dropOwned,
    dropRole,
    existingRolesQuery,
    grantRole,
    reassignOwned,
    renameRole,
    resetRoleSetting,
    revokeRole,
    roleAttributesQuery,
    roleSettingsQuery,
    setRoleSetting,
    shapeRoleStatement,
} from "../../components/sql/roles";

describe("a login role", () => {
    it("is created with its attributes, limit and password", () => {
        expect(
            shapeRoleStatement({ name: "shop_app", flags: ["LOGIN", "NOSUPERUSER"], connectionLimit: 10, password: "it's" }, false),
        ).toBe(`CREATE ROLE "shop_app" WITH LOGIN NOSUPERUSER CONNECTION LIMIT 10 PASSWORD 'it''s'`);
    });

    it("is altered naming only what it is given, its password kept when none is", () => {
        expect(shapeRoleStatement({ name: "shop_app", flags: [], connectionLimit: 5 }, true)).toBe(
            'ALTER ROLE "shop_app" WITH CONNECTION LIMIT 5',
        );
    });

    it("is renamed, marked, emptied and dropped", () => {
        expect(renameRole("shop_app", "shop_app_b")).toBe('ALTER ROLE "shop_app" RENAME TO "shop_app_b"');
        expect(commentOnRole("shop_app", "app-databases: login role of database shop")).toBe(
            `COMMENT ON ROLE "shop_app" IS 'app-databases: login role of database shop'`,
        );
        expect(reassignOwned("shop_app", CURRENT_USER)).toBe('REASSIGN OWNED BY "shop_app" TO CURRENT_USER');
        expect(reassignOwned("shop_app", "shop_migrate")).toBe('REASSIGN OWNED BY "shop_app" TO "shop_migrate"');
        expect(dropOwned("shop_app")).toBe('DROP OWNED BY "shop_app"');
        expect(dropRole('we"ird')).toBe('DROP ROLE "we""ird"');
    });

    it("joins and leaves groups", () => {
        expect(grantRole("shop_readers", "shop_app")).toBe('GRANT "shop_readers" TO "shop_app"');
        expect(revokeRole("shop_readers", "shop_app")).toBe('REVOKE "shop_readers" FROM "shop_app"');
        expect(grantRole("shop_migrate", CURRENT_USER)).toBe('GRANT "shop_migrate" TO CURRENT_USER');
    });
});

describe("role settings", () => {
    it("set a value as a literal, role-wide or in one database", () => {
        expect(setRoleSetting("shop_app", "statement_timeout", "30000")).toBe(`ALTER ROLE "shop_app" SET statement_timeout = '30000'`);
        expect(setRoleSetting("shop_app", "role", "shop_migrate", "shop")).toBe(
            `ALTER ROLE "shop_app" IN DATABASE "shop" SET role = 'shop_migrate'`,
        );
    });

    it("set a search_path as a list of plain names", () => {
        expect(setRoleSetting("shop_app", "search_path", "sales,  public", "shop")).toBe(
            'ALTER ROLE "shop_app" IN DATABASE "shop" SET search_path = sales, public',
        );
    });

    it("reset a parameter", () => {
        expect(resetRoleSetting("shop_app", "idle_session_timeout")).toBe('ALTER ROLE "shop_app" RESET idle_session_timeout');
    });

    it("throws when a parameter name is not a plain name", () => {
        expect(() => setRoleSetting("r", "x; DROP ROLE r", "1")).toThrow('RoleSettings: invalid parameter name "x; DROP ROLE r"');
        expect(() => resetRoleSetting("r", "Bad")).toThrow('RoleSettings: invalid parameter name "Bad"');
    });

    it("throws when a search_path names a schema that would need quotes", () => {
        expect(() => setRoleSetting("r", "search_path", 'sales, "x"')).toThrow('RoleSettings: invalid search_path "sales, \\"x\\""');
    });

    it("are read role-wide or in one database, names bound", () => {
        expect(roleSettingsQuery("shop_app").values).toEqual(["shop_app"]);
        expect(roleSettingsQuery("shop_app", "shop").values).toEqual(["shop_app", "shop"]);
        expect(roleSettingsQuery("shop_app", "shop").text).toContain("d.datname = $2");
    });
});

describe("the catalog", () => {
    it("is asked about roles with their names bound as one array", () => {
        expect(existingRolesQuery(["a", "b"])).toEqual({
            text: "SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])",
            values: [["a", "b"]],
        });
        expect(roleAttributesQuery(["a"]).values).toEqual([["a"]]);
    });
});

describe("default privileges", () => {
    const entry: DefaultPrivilegeEntry = {
        owner: "shop_migrate",
        role: "shop_app",
        schema: "sales",
        objectType: "table",
        privileges: ["SELECT"],
    };

    it("are granted for an owner in a schema", () => {
        expect(alterDefaultPrivileges(entry, "GRANT", "SELECT, INSERT")).toBe(
            'ALTER DEFAULT PRIVILEGES FOR ROLE "shop_migrate" IN SCHEMA "sales" GRANT SELECT, INSERT ON TABLES TO "shop_app"',
        );
    });

    it("are revoked from PUBLIC in the whole database", () => {
        const functions: DefaultPrivilegeEntry = { owner: "shop_migrate", role: "public", objectType: "function", privileges: [] };
        expect(alterDefaultPrivileges(functions, "REVOKE", "ALL")).toBe(
            'ALTER DEFAULT PRIVILEGES FOR ROLE "shop_migrate" REVOKE ALL ON FUNCTIONS FROM PUBLIC',
        );
    });

    it("are read with the catalog letters of the object type", () => {
        expect(defaultPrivilegesQuery({ ...entry, objectType: "sequence" }).values).toEqual([
            "shop_migrate",
            "sales",
            "S",
            "s",
            "shop_app",
        ]);
    });
});
