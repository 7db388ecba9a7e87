/**
 * Each family of statements in components/sql/ once against a real
 * PostgreSQL, without Pulumi: the text the unit tests pin is accepted by the
 * server and does what its name says, as the catalog shows afterwards. Names
 * that need quoting (a double quote, a space, upper case) and literals with a
 * quote and a backslash go through the one quoting helper.
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applicationNameQuery, budgetRolesQuery, lockHolderQuery, lockStatement, tryLockQuery } from "../../components/sql/budgetLock";
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
    alterDefaultPrivileges,
    DefaultPrivilegeEntry,
    defaultPrivilegesQuery,
    defaultPrivilegeTargetQuery,
} from "../../components/sql/defaultPrivileges";
import {
    blockersQuery,
    movableRelationsQuery,
    movableRoutinesQuery,
    ownerChange,
    schemaExtensionQuery,
    shortTransaction,
} from "../../components/sql/ownership";
import { CURRENT_USER, literal } from "../../components/sql/quote";
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
    roleCommentQuery,
    roleSettingsQuery,
    setRoleSetting,
    shapeRoleStatement,
    usesRoleQuery,
} from "../../components/sql/roles";
import {
    createSchema,
    createsInPublicQuery,
    grantOnSchema,
    publicSchemaQuery,
    revokeOnSchema,
    revokePublicSchemaCreate,
    schemasQuery,
    schemaUsageQuery,
} from "../../components/sql/schemas";
import { hbaErrorsQuery, hbaPathQuery, readFileQuery, reloadConfig, writeFileStatement } from "../../components/sql/serverFiles";
import * as catalog from "../../components/sql/catalog";
import { TestCluster } from "../kit/postgres";

const cluster = new TestCluster();
let admin: Client;

/** Names a careless quote would break. */
const DB = 'Shop "db"';
const OWNER = "shop migrate";
const APP = 'shop"app';

async function session(database = "postgres", user = cluster.adminUser, password = cluster.adminPassword): Promise<Client> {
    const client = new Client(cluster.clientConfig(user, password, database));
    await client.connect();
    return client;
}

async function inDatabase<T>(work: (client: Client) => Promise<T>): Promise<T> {
    const client = await session(DB);
    try {
        return await work(client);
    } finally {
        await client.end();
    }
}

const run = async (client: Client, statements: readonly string[]) => {
    for (const s of statements) await client.query(s);
};

beforeAll(async () => {
    await cluster.start();
    admin = await session();
});

afterAll(async () => {
    await admin?.end();
    await cluster.stop();
});

describe("the statements of components/sql/ on a real server", () => {
    it("roles: made, shaped, set, joined, renamed, marked, emptied and dropped", async () => {
        const flags = ["LOGIN", "NOSUPERUSER", "NOCREATEDB", "NOCREATEROLE", "INHERIT"];
        await run(admin, [
            shapeRoleStatement({ name: OWNER, flags, connectionLimit: 3, password: "it's a \\ secret" }, false),
            shapeRoleStatement({ name: APP, flags, connectionLimit: 2, password: "plain" }, false),
            shapeRoleStatement({ name: APP, flags: [], connectionLimit: 5 }, true),
            setRoleSetting(APP, "statement_timeout", "30000"),
            setRoleSetting(APP, "idle_session_timeout", "600000"),
            resetRoleSetting(APP, "idle_session_timeout"),
            grantRole(OWNER, APP),
            commentOnRole(APP, "app-databases: it's \\ marked"),
        ]);
        const attributes = (await admin.query(roleAttributesQuery([OWNER, APP]))).rows;
        expect(attributes.map((r) => [r.rolname, r.rolcanlogin, r.rolsuper, r.rolconnlimit, r.setconfig, r.member_of]).sort()).toEqual([
            [OWNER, true, false, 3, null, []],
            [APP, true, false, 5, ["statement_timeout=30000"], [OWNER]],
        ]);
        expect((await admin.query(roleCommentQuery(APP))).rows[0].comment).toBe("app-databases: it's \\ marked");
        expect((await admin.query(roleSettingsQuery(APP))).rows[0].setconfig).toEqual(["statement_timeout=30000"]);
        // The password went in as written: the role logs in with it.
        const asOwner = await session("postgres", OWNER, "it's a \\ secret");
        await asOwner.end();

        await run(admin, [revokeRole(OWNER, APP), renameRole(APP, "shop_app_b")]);
        expect((await admin.query(existingRolesQuery([APP, "shop_app_b"]))).rows).toEqual([{ rolname: "shop_app_b" }]);
        await admin.query("CREATE TABLE kept_by_admin (id int)");
        await admin.query("ALTER TABLE kept_by_admin OWNER TO shop_app_b");
        await run(admin, [reassignOwned("shop_app_b", CURRENT_USER), dropOwned("shop_app_b"), dropRole("shop_app_b")]);
        expect((await admin.query(existingRolesQuery(["shop_app_b"]))).rows).toEqual([]);
        expect((await admin.query("SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = 'kept_by_admin'")).rows).toEqual(
            [{ owner: cluster.adminUser }],
        );
        expect((await admin.query(usesRoleQuery(OWNER))).rows[0].ok).toBe(true); // a superuser uses every role
    });

    it("a database: made, locked to its grantees, opened again, given away and dropped", async () => {
        await run(admin, [
            shapeRoleStatement({ name: APP, flags: ["LOGIN"], connectionLimit: 2, password: "app-pw" }, false),
            createDatabase(DB, OWNER),
            ...connectLockStatements({ database: DB, grantees: [APP], keepAdmin: true }),
        ]);
        const locked = (await admin.query(databaseQuery(DB))).rows[0];
        expect(locked.owner).toBe(OWNER);
        expect(locked.acl.some((a: string) => a.startsWith("="))).toBe(false); // PUBLIC has nothing
        expect(locked.acl.some((a: string) => a.startsWith(`"shop""app"=Tc/`))).toBe(true);
        expect(locked.acl.some((a: string) => a.startsWith(`${cluster.adminUser}=c/`))).toBe(true);
        const asApp = await session(DB, APP, "app-pw");
        await asApp.end();

        await run(admin, connectLockStatements({ database: DB, grantees: [], removed: [APP] }));
        expect((await admin.query(databaseQuery(DB))).rows[0].acl.some((a: string) => a.startsWith('"shop""app"='))).toBe(false);
        await expect(session(DB, APP, "app-pw")).rejects.toThrow(/permission denied/);

        await run(admin, [restorePublicConnect(DB), revokeConnect(DB, [cluster.adminUser])]);
        expect((await admin.query(databaseQuery(DB))).rows[0].acl.some((a: string) => a.startsWith("=Tc/"))).toBe(true);
        await run(admin, [alterDatabaseOwner(DB, cluster.adminUser)]);
        expect((await admin.query(databaseQuery(DB))).rows[0].owner).toBe(cluster.adminUser);
        await run(admin, [alterDatabaseOwner(DB, OWNER)]);
    });

    it("schemas: made, public locked, USAGE granted and revoked", async () => {
        await inDatabase(async (client) => {
            await run(client, [createSchema("Sales", OWNER), createSchema("Sales", OWNER)]);
            expect((await client.query(schemasQuery(["Sales", "missing"]))).rows.map((r) => [r.schema, r.owner])).toEqual([
                ["Sales", OWNER],
            ]);
            await run(client, [grantOnSchema(["USAGE"], "Sales", APP), grantOnSchema(["CREATE", "USAGE"], "public", OWNER)]);
            // The owner holds its own privileges in the ACL too.
            expect((await client.query(schemaUsageQuery(["Sales"]))).rows.map((r) => r.role).sort()).toEqual([OWNER, APP]);
            expect((await client.query(createsInPublicQuery(OWNER))).rows[0].ok).toBe(true);
            await client.query("GRANT CREATE ON SCHEMA public TO PUBLIC"); // as PostgreSQL 14 has it
            expect((await client.query(publicSchemaQuery())).rows[0].open).toBe(true);
            await run(client, [revokePublicSchemaCreate(), revokeOnSchema(["USAGE"], "Sales", APP)]);
            expect((await client.query(publicSchemaQuery())).rows[0].open).toBe(false);
            expect((await client.query(schemaUsageQuery(["Sales"]))).rows.map((r) => r.role)).toEqual([OWNER]);
        });
    });

    it("default privileges: granted for an owner in a schema and read back, then revoked", async () => {
        const entry: DefaultPrivilegeEntry = {
            owner: OWNER,
            role: APP,
            schema: "Sales",
            objectType: "table",
            privileges: ["INSERT", "SELECT"],
        };
        const functions: DefaultPrivilegeEntry = { owner: OWNER, role: "public", objectType: "function", privileges: [] };
        await inDatabase(async (client) => {
            expect((await client.query(defaultPrivilegeTargetQuery(entry))).rows[0].ok).toBe(true);
            await run(client, [
                alterDefaultPrivileges(entry, "GRANT", entry.privileges.join(", ")),
                alterDefaultPrivileges(functions, "REVOKE", "ALL"),
            ]);
            expect((await client.query(defaultPrivilegesQuery(entry))).rows.map((r) => r.privilege)).toEqual(["INSERT", "SELECT"]);
            expect((await client.query(defaultPrivilegesQuery({ ...functions, privileges: ["EXECUTE"] }))).rows).toEqual([]);
            await run(client, [alterDefaultPrivileges(entry, "REVOKE", "ALL")]);
            expect((await client.query(defaultPrivilegesQuery(entry))).rows).toEqual([]);
        });
    });

    it("ownership: movable objects found, and moved in a short transaction", async () => {
        await inDatabase(async (client) => {
            await client.query('CREATE TABLE "Sales".orders (id serial PRIMARY KEY)');
            await client.query('CREATE FUNCTION "Sales".kpi(n integer) RETURNS integer LANGUAGE sql AS $$ SELECT n $$');
            const relations = (await client.query(movableRelationsQuery(["Sales"], [cluster.adminUser]))).rows;
            const routines = (await client.query(movableRoutinesQuery(["Sales"], [cluster.adminUser]))).rows;
            // The serial's sequence follows its table: not listed.
            expect(relations.map((r) => [r.kind, r.name])).toEqual([["r", '"Sales".orders']]);
            expect(routines.map((r) => [r.kind, r.name])).toEqual([["fn", '"Sales".kpi(n integer)']]);
            expect((await client.query(schemaExtensionQuery("Sales"))).rows).toEqual([{ extension: null }]);
            expect((await client.query(blockersQuery("pg_class", Number(relations[0].oid)))).rows).toEqual([]);
            await client.query(shortTransaction(ownerChange("TABLE", relations[0].name, OWNER), 1000));
            await client.query(shortTransaction(ownerChange("FUNCTION", routines[0].name, OWNER), 1000));
            expect((await client.query(movableRelationsQuery(["Sales"], [OWNER]))).rows.map((r) => r.owner)).toEqual([OWNER]);
            expect((await client.query(movableRoutinesQuery(["Sales"], [OWNER]))).rows).toHaveLength(1);
        });
    });

    it("the budget lock: taken once per transaction, its holder named to a second session", async () => {
        const other = await session();
        try {
            await admin.query("BEGIN");
            await admin.query(applicationNameQuery("app-databases test/stack"));
            expect((await admin.query(tryLockQuery("app-databases"))).rows[0].ok).toBe(true);
            await other.query("BEGIN");
            expect((await other.query(tryLockQuery("app-databases"))).rows[0].ok).toBe(false);
            const holder = (await other.query(lockHolderQuery("app-databases"))).rows[0];
            expect(holder.application_name).toBe("app-databases test/stack");
            await other.query("SET LOCAL lock_timeout = 200");
            await expect(other.query(lockStatement("app-databases"))).rejects.toThrow(/lock timeout/);
            await other.query("ROLLBACK");
            expect((await admin.query(budgetRolesQuery())).rows.map((r) => r.rolname)).toContain(OWNER);
            await admin.query("COMMIT");
        } finally {
            await other.end();
        }
    });

    it("a server file: written with COPY line by line and read back", async () => {
        const dir = (await admin.query("SELECT current_setting('data_directory') AS d")).rows[0].d as string;
        const path = `${dir}/sql-families.txt`;
        const lines = ["local all all trust", "host all all 127.0.0.1/32 'it''s'"];
        await admin.query(writeFileStatement(path, lines));
        expect((await admin.query(readFileQuery(path))).rows[0].text).toBe(lines.map((l) => `${l}\n`).join(""));
        const hba = (await admin.query(hbaPathQuery())).rows[0].path as string;
        expect(hba).toMatch(/pg_hba\.conf$/);
        expect((await admin.query(hbaErrorsQuery())).rows).toEqual([]);
        await admin.query(reloadConfig());
    });

    it("a literal with a quote and a backslash reads back as written", async () => {
        const value = "it's \\ fine";
        expect((await admin.query(`SELECT ${literal(value)} AS v`)).rows[0].v).toBe(value);
    });

    it("the catalog: what the preflight, the adoption facts and the access report read", async () => {
        const settings = (await admin.query(catalog.serverSettingsQuery())).rows[0];
        expect(settings.version_num).toBeGreaterThanOrEqual(140000);
        expect(settings.max_connections).toBe(100);
        expect((await admin.query(catalog.versionQuery())).rows[0].v).toBe(settings.version_num);
        expect((await admin.query(catalog.liveRolesQuery())).rows.map((r) => r.rolname)).toEqual([APP, cluster.adminUser, OWNER].sort());
        expect(
            (await admin.query(catalog.loginRolesQuery())).rows.find((r) => r.rolname === cluster.adminUser)?.live,
        ).toBeGreaterThanOrEqual(1);
        expect((await admin.query(catalog.databasesQuery())).rows.find((r) => r.datname === DB)).toEqual({
            datname: DB,
            public_connect: true,
        });
        expect((await admin.query(catalog.databaseNamesQuery())).rows.map((r) => r.datname)).toContain(DB);
        expect((await admin.query(catalog.connectMatrixQuery())).rows).toContainEqual({ rolname: APP, datname: DB });
        expect((await admin.query(catalog.adminOptionsQuery())).rows).toEqual([]);
        expect((await admin.query(catalog.adminStandingQuery([APP]))).rows.map((r) => [r.role, r.usable])).toEqual([[APP, true]]);
        expect((await admin.query(catalog.passwordVerifiersQuery([APP]))).rows[0].rolpassword).toMatch(/^SCRAM-SHA-256\$/);
        await inDatabase(async (client) => {
            await client.query('CREATE TABLE "Sales".stays (id int)');
            expect((await client.query(catalog.foreignObjectsQuery(OWNER))).rows.map((r) => [r.nspname, r.relname])).toEqual([
                ["Sales", "stays"],
            ]);
            expect((await client.query(catalog.othersOwnQuery(["Sales"], [OWNER]))).rows[0].n).toBe(1);
            // The serial's sequence counts as a sequence.
            expect((await client.query(catalog.objectCountsQuery(["Sales"]))).rows).toEqual([{ schema: "Sales", tables: 2, sequences: 1 }]);
            expect((await client.query(catalog.connectingRolesQuery())).rows.map((r) => r.rolname)).toEqual([APP, OWNER].sort());
        });
    });

    it("the database goes with a session still in it", async () => {
        const lingering = await session(DB);
        lingering.on("error", () => undefined); // terminated by DROP ... WITH (FORCE)
        await admin.query(dropDatabase(DB));
        expect((await admin.query(databaseQuery(DB))).rows).toEqual([]);
        await lingering.end().catch(() => undefined);
    });
});
