/**
 * AppDatabase under Pulumi mocks: the database, its CONNECT lock-down, grants, extra roles and outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeEach, describe, expect, it } from "vitest";
import { declared, installMocks, lastState, lastStateRead, MANAGED_ROLES, ofType, reset, settle, valueOf } from "./mocks";

// Components are imported after the mocks are installed.
installMocks();
import { AppDatabase } from "../../components";
import { resolveAppDatabaseArgs } from "../../components/appDatabase";
import { forgetPriorResources } from "../../components/priorState";
import {
    DEFAULT_ACCESS_LEVEL,
    DEFAULT_EXTRA_ROLE_ACCESS_LEVEL,
    DEFAULT_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS,
    DEFAULT_IDLE_SESSION_TIMEOUT_MS,
    DEFAULT_RUNTIME_CONNECTION_LIMIT,
    DEFAULT_STATEMENT_TIMEOUT_MS,
} from "../../components/defaults";
import { labServer as server } from "./fixtures";

const DATABASE = "postgresql:index/database:Database";
const SCHEMA = "postgresql:index/schema:Schema";
const DEFAULT_PRIVILEGES = "postgresql:index/defaultPrivileges:DefaultPrivileges";
const ROLE_SETTINGS = "pulumi-nodejs:dynamic/app-databases:RoleSettings";
const DATABASE_ACCESS = "pulumi-nodejs:dynamic/app-databases:DatabaseAccess";

beforeEach(reset);

describe("AppDatabase", () => {
    const readonlyExtra = (idleSessionTimeoutMs: number) => ({
        access: "readonly" as const,
        connectionLimit: 3,
        rotation: 0,
        statementTimeoutMs: 1000,
        idleInTransactionSessionTimeoutMs: 1000,
        idleSessionTimeoutMs,
    });
    function app(access: "readwrite" | "readonly" | "migrations" = "readwrite", extra = {}) {
        return new AppDatabase("grafana", { app: "grafana", server: server(), access, extraRoles: extra });
    }

    it("has DatabaseAccess create the database owned by the migrate role, and the app's other schemas: no provider Database or Schema", async () => {
        const db = new AppDatabase("grafana", { app: "grafana", server: server(), schemas: ["public", "ui"] });
        expect(await valueOf(db.databaseName)).toBe("grafana");
        await settle();
        expect(ofType(DATABASE)).toEqual([]);
        expect(ofType(SCHEMA)).toEqual([]);
        const [access] = ofType(DATABASE_ACCESS);
        expect(access.inputs).toMatchObject({ database: "grafana", owner: "grafana_migrate", createDatabase: true, schemas: ["ui"] });
    });

    it("leaves an adopted database to AdoptedDatabase: DatabaseAccess neither creates nor drops it", async () => {
        const db = new AppDatabase("grafana", { app: "grafana", server: server(), adopt: { database: true } });
        await valueOf(db.databaseName);
        await settle();
        expect(ofType("pulumi-nodejs:dynamic/app-databases:AdoptedDatabase").map((r) => r.name)).toEqual(["grafana"]);
        const [access] = ofType(DATABASE_ACCESS);
        expect(access.inputs.createDatabase).toBeUndefined();
        expect(access.inputs.schemas).toBeUndefined();
    });

    it("moves an adopted database's objects with ObjectOwnership, passing on how long each may wait for its lock", async () => {
        new AppDatabase("grafana", {
            app: "grafana",
            server: server(),
            adopt: { database: true, moveObjects: { schemas: ["public"], from: ["postgres"], lockTimeoutMs: 500, maxWaitSeconds: 30 } },
        });
        await settle();
        await settle();
        const [ownership] = ofType("pulumi-nodejs:dynamic/app-databases:ObjectOwnership");
        expect(ownership.name).toBe("grafana-ownership");
        expect(ownership.inputs).toMatchObject({
            database: "grafana",
            schemas: ["public"],
            from: ["postgres"],
            to: "grafana_migrate",
            lockTimeoutMs: 500,
            maxWaitSeconds: 30,
        });
    });

    it("revokes CONNECT from PUBLIC and grants it to the app's own roles only", async () => {
        app("readwrite", { grafana_ro: readonlyExtra(1000) });
        await settle();
        await settle();
        const access = declared.find((r) => r.type === DATABASE_ACCESS && r.name === "grafana-access")!;
        expect(access.inputs.database).toBe("grafana");
        expect(access.inputs.owner).toBe("grafana_migrate");
        expect(access.inputs.grantees).toEqual(["grafana_app", "grafana_ro"]);
        // PostgreSQL 14's CREATE on schema public goes from PUBLIC; only the migrate role creates there.
        expect(access.inputs.publicSchemaCreators).toEqual(["grafana_migrate"]);
    });

    it("sets every role's idle_session_timeout from that one DatabaseAccess: no RoleSettings resource", async () => {
        app("readwrite", { grafana_ro: readonlyExtra(1500) });
        await settle();
        await settle();
        expect(ofType(ROLE_SETTINGS)).toEqual([]);
        // DatabaseAccess makes the roles too: one resource of the app's own, beside the component.
        expect(
            declared
                .filter((r) => r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("pulumi:providers:"))
                .map((r) => [r.type, r.name]),
        ).toEqual([
            ["app-databases:index:SharedServer", "lab"],
            ["app-databases:index:AppDatabase", "grafana"],
            [DATABASE_ACCESS, "grafana-access"],
        ]);
        const access = declared.find((r) => r.type === DATABASE_ACCESS)!;
        expect(access.inputs.roleSettings).toEqual([
            { role: "grafana_app", settings: { idle_session_timeout: "600000" } },
            { role: "grafana_ro", settings: { idle_session_timeout: "1500" } },
        ]);
    });

    /** The default privileges DatabaseAccess applies, as [role, schema, objectType, privileges]. */
    const defaultPrivileges = () =>
        ofType(DATABASE_ACCESS)
            .find((a) => a.name.endsWith("-access"))!
            .inputs.defaultPrivileges.map((e: any) => {
                expect(e.owner).toBe("grafana_migrate");
                return [e.role, e.schema ?? null, e.objectType, e.privileges];
            });

    it.each([
        [
            "readwrite",
            [
                ["table", ["DELETE", "INSERT", "SELECT", "UPDATE"]],
                ["sequence", ["SELECT", "UPDATE", "USAGE"]],
            ],
        ],
        [
            "readonly",
            [
                ["table", ["SELECT"]],
                ["sequence", ["SELECT"]],
            ],
        ],
        ["migrations", []],
    ] as const)(
        "grants %s through default privileges that DatabaseAccess applies, with no resource per privilege",
        async (access, expected) => {
            const db = app(access);
            await valueOf(db.runtimeUrl);
            await settle();
            expect(defaultPrivileges()).toEqual(
                expected.map(([objectType, privileges]) => ["grafana_app", "public", objectType, privileges]),
            );
            expect(ofType(DEFAULT_PRIVILEGES)).toEqual([]);
        },
    );

    it("gives each role its own schemas: USAGE, default privileges and search_path (then public), and runs migrations as the migrate role", async () => {
        const db = new AppDatabase("grafana", {
            app: "grafana",
            server: server(),
            schemas: ["ui", "audit"],
            runtimeSchemas: ["ui"],
            extraRoles: {
                grafana_ro: { access: "readonly" },
                grafana_audit: { access: "readwrite", schemas: ["audit"], runsMigrations: true },
            },
        });
        await valueOf(db.runtimeUrl);
        await settle();
        expect(defaultPrivileges().map((e: string[]) => `${e[0]} ${e[1]} ${e[2]}`)).toEqual([
            "grafana_app ui table",
            "grafana_app ui sequence",
            "grafana_ro ui table",
            "grafana_ro ui sequence",
            "grafana_ro audit table",
            "grafana_ro audit sequence",
            "grafana_audit audit table",
            "grafana_audit audit sequence",
        ]);
        const access = ofType(DATABASE_ACCESS).find((a) => a.name === "grafana-access")!;
        expect(access.inputs.schemaUsage).toEqual([
            { schema: "ui", role: "grafana_app" },
            { schema: "ui", role: "grafana_ro" },
            { schema: "audit", role: "grafana_ro" },
            { schema: "audit", role: "grafana_audit" },
        ]);
        expect(access.inputs.roleSettings.filter((e: { database?: string }) => e.database === "grafana")).toEqual([
            { role: "grafana_migrate", database: "grafana", settings: { search_path: "ui, audit, public" } },
            { role: "grafana_app", database: "grafana", settings: { search_path: "ui, public" } },
            { role: "grafana_ro", database: "grafana", settings: { search_path: "ui, audit, public" } },
            { role: "grafana_audit", database: "grafana", settings: { search_path: "audit, public", role: "grafana_migrate" } },
        ]);
    });

    it("throws when a role's schemas are not the app's", () => {
        expect(
            () =>
                new AppDatabase("grafana", {
                    app: "grafana",
                    server: server(),
                    schemas: ["ui"],
                    extraRoles: { grafana_ro: { schemas: ["x"] } },
                }),
        ).toThrow('AppDatabase: `extraRoles.grafana_ro.schemas` expected schemas among the app\'s schemas (ui), got "x"');
        expect(() => new AppDatabase("grafana", { app: "grafana", server: server(), runtimeSchemas: ["ui"] })).toThrow(
            'AppDatabase: `runtimeSchemas` expected schemas among the app\'s schemas (public), got "ui"',
        );
    });

    it("takes EXECUTE on new functions from PUBLIC database-wide and gives it to readwrite roles only", async () => {
        const db = new AppDatabase("grafana", {
            app: "grafana",
            server: server(),
            revokeFunctionExecute: true,
            extraRoles: { grafana_ro: { access: "readonly" }, grafana_rw: { access: "readwrite" } },
        });
        await valueOf(db.runtimeUrl);
        await settle();
        expect(defaultPrivileges().filter((e: unknown[]) => e[2] === "function")).toEqual([
            ["public", null, "function", []],
            ["grafana_app", null, "function", ["EXECUTE"]],
            ["grafana_rw", null, "function", ["EXECUTE"]],
        ]);
    });

    it("keeps the DefaultPrivileges an earlier version left in the state, its own only, as they were", async () => {
        const urn = (name: string) =>
            `urn:pulumi:test::app-databases::app-databases:index:AppDatabase$postgresql:index/defaultPrivileges:DefaultPrivileges::${name}`;
        const tables = { database: "grafana", owner: "grafana_migrate", role: "grafana_app", schema: "public", objectType: "table" };
        Object.assign(lastState, {
            [urn("grafana-app-tables")]: {
                type: DEFAULT_PRIVILEGES,
                outputs: { ...tables, privileges: ["SELECT"], withGrantOption: false, id: "x", urn: "ignored" },
            },
            // Another app whose name starts the same: its own database.
            [urn("grafana-ui-app-tables")]: {
                type: DEFAULT_PRIVILEGES,
                outputs: { ...tables, database: "grafana_ui", privileges: ["SELECT"] },
            },
            [urn("grafana-app")]: { type: "postgresql:index/grant:Grant", outputs: { database: "grafana" } },
        });
        forgetPriorResources();
        try {
            const db = new AppDatabase("grafana", { app: "grafana", server: server() });
            await valueOf(db.runtimeUrl);
            await settle();
            expect(ofType(DEFAULT_PRIVILEGES).map((r) => [r.name, r.inputs])).toEqual([
                ["grafana-app-tables", { ...tables, privileges: ["SELECT"], withGrantOption: false }],
            ]);
        } finally {
            for (const key of Object.keys(lastState)) delete lastState[key];
            forgetPriorResources();
        }
    });

    it("keeps the Database and Schemas an earlier version made for this app, its own only, for one more up", async () => {
        const urn = (type: string, name: string) => `urn:pulumi:test::app-databases::app-databases:index:AppDatabase$${type}::${name}`;
        Object.assign(lastState, {
            [urn(DATABASE, "grafana")]: { type: DATABASE, outputs: { name: "grafana", owner: "grafana_migrate", template: "template0" } },
            [urn(SCHEMA, "grafana-ui-schema")]: { type: SCHEMA, outputs: { name: "ui", database: "grafana", owner: "grafana_migrate" } },
            // Another app's, whose name starts the same.
            [urn(DATABASE, "grafana-ui")]: { type: DATABASE, outputs: { name: "grafana_ui" } },
            [urn(SCHEMA, "grafana-ui-ui-schema")]: { type: SCHEMA, outputs: { name: "ui", database: "grafana_ui" } },
        });
        forgetPriorResources();
        try {
            const db = new AppDatabase("grafana", { app: "grafana", server: server(), schemas: ["public", "ui"] });
            await valueOf(db.runtimeUrl);
            await settle();
            // Every other input is ignored (the engine keeps the last ones): no change, no provider call.
            expect([...ofType(DATABASE), ...ofType(SCHEMA)].map((r) => [r.name, r.inputs])).toEqual([
                ["grafana", { name: "grafana" }],
                ["grafana-ui-schema", { name: "ui", database: "grafana" }],
            ]);
        } finally {
            for (const key of Object.keys(lastState)) delete lastState[key];
            forgetPriorResources();
        }
    });

    it("finds nothing to keep in a stack that never finished an up (no checkpoint yet)", async () => {
        lastStateRead.error = "invocation of pulumi:pulumi:readStackResourceOutputs returned an error: failed to load checkpoint: EOF";
        forgetPriorResources();
        try {
            const db = new AppDatabase("grafana", { app: "grafana", server: server() });
            await valueOf(db.runtimeUrl);
            await settle();
            expect(ofType(DEFAULT_PRIVILEGES)).toEqual([]);
        } finally {
            lastStateRead.error = undefined;
            forgetPriorResources();
        }
    });

    it("reads no state when told the stack holds none", async () => {
        Object.assign(lastState, {
            "urn:pulumi:test::app-databases::app-databases:index:AppDatabase$postgresql:index/defaultPrivileges:DefaultPrivileges::grafana-app-tables":
                { type: DEFAULT_PRIVILEGES, outputs: { database: "grafana" } },
        });
        forgetPriorResources();
        try {
            const db = new AppDatabase("grafana", { app: "grafana", server: server(), stateAtLastUp: [] });
            await valueOf(db.runtimeUrl);
            await settle();
            expect(ofType(DEFAULT_PRIVILEGES)).toEqual([]);
        } finally {
            for (const key of Object.keys(lastState)) delete lastState[key];
            forgetPriorResources();
        }
    });

    it("gives each extra role its own login, limit, password and access", async () => {
        const db = app("migrations", {
            grafana_ro: {
                access: "readonly",
                connectionLimit: 3,
                rotation: 1,
                statementTimeoutMs: 1000,
                idleInTransactionSessionTimeoutMs: 2000,
                idleSessionTimeoutMs: 3000,
            },
        });
        const urls = await valueOf(db.extraRoleUrls);
        await settle();
        // Made by DatabaseAccess with the pair; removing it drops it after everything was revoked from it.
        const access = ofType(DATABASE_ACCESS).find((r) => r.name === "grafana-access")!;
        expect(ofType(MANAGED_ROLES)).toEqual([]);
        expect(Object.keys(access.inputs.roles).sort()).toEqual(["extra:grafana_ro", "migrate", "runtime"]);
        expect({ grafana_ro: access.inputs.roles["extra:grafana_ro"] }).toEqual({
            grafana_ro: {
                name: "grafana_ro",
                connectionLimit: 3,
                rotation: 1,
                memberOf: [],
                statementTimeoutMs: 1000,
                idleInTransactionSessionTimeoutMs: 2000,
            },
        });
        expect(defaultPrivileges().map((e: unknown[]) => [e[0], e[2]])).toEqual([
            ["grafana_ro", "table"],
            ["grafana_ro", "sequence"],
        ]);
        expect(urls).toEqual({
            grafana_ro:
                "postgresql://grafana_ro:pw-grafana-access-extra%3Agrafana_ro@10.0.0.5:5433/grafana?sslmode=require&connect_timeout=10",
        });
    });

    it("outputs connection facts and secret URLs with sslmode and connect_timeout", async () => {
        const db = app();
        expect(await valueOf(db.host)).toBe("10.0.0.5");
        expect(await valueOf(db.port)).toBe(5433);
        expect(await valueOf(db.runtimeUser)).toBe("grafana_app");
        expect(await valueOf(db.migrateUser)).toBe("grafana_migrate");
        expect(await valueOf(db.runtimeUrl)).toBe(
            "postgresql://grafana_app:pw-grafana-access-runtime@10.0.0.5:5433/grafana?sslmode=require&connect_timeout=10",
        );
        expect(await valueOf(db.migrateUrl)).toContain("grafana_migrate:pw-grafana-access-migrate@");
        for (const secret of [db.runtimeUrl, db.migrateUrl, db.extraRoleUrls, db.internalRuntimeUrl] as pulumi.Output<unknown>[]) {
            expect(await pulumi.isSecret(secret)).toBe(true);
        }
        expect(await pulumi.isSecret(db.runtimeUser)).toBe(false);
    });

    it.each([true, false])("sets protect=%s on the database and its roles (its DatabaseAccess) and every adopted role", async (protect) => {
        const db = new AppDatabase("grafana", {
            app: "grafana",
            server: server(),
            protect,
            adopt: { roles: { grafana_app: { password: "kept" } } },
            extraRoles: {
                grafana_ro: {
                    access: "readonly",
                    connectionLimit: 1,
                    rotation: 0,
                    statementTimeoutMs: 0,
                    idleInTransactionSessionTimeoutMs: 0,
                    idleSessionTimeoutMs: 0,
                },
            },
        });
        await valueOf(db.runtimeUrl);
        const flag = (r: pulumi.Resource) => (r as unknown as { __protect?: boolean }).__protect === true;
        expect(flag(db.access)).toBe(protect);
        const adopted = declared.filter((r) => r.type.endsWith(":AdoptedRole")).map((r) => r.name);
        expect(adopted).toEqual(["grafana-app"]);
        const children = (db as unknown as { __childResources?: Set<pulumi.Resource> }).__childResources ?? new Set();
        const roles = [...children].filter((r) => (r as unknown as { __name?: string }).__name === "grafana-app");
        expect(roles.length).toBe(1);
        for (const role of roles) expect(flag(role)).toBe(protect);
    });

    it("throws naming `database` when the database name is unusable", () => {
        expect(() => new AppDatabase("x", { app: "x", server: server(), database: "template1" })).toThrow(
            /AppDatabase: `database`.*system name/,
        );
    });
});

describe("resolveAppDatabaseArgs", () => {
    it("fills every default from the named constants, extra roles included", () => {
        const s = server();
        const resolved = resolveAppDatabaseArgs({ app: "shop", server: s, extraRoles: { shop_dashboard: {} } });
        expect(resolved).toMatchObject({ database: "shop", access: DEFAULT_ACCESS_LEVEL, protect: false, retainOnDelete: false });
        expect(resolved.extraRoles.shop_dashboard).toEqual({
            access: DEFAULT_EXTRA_ROLE_ACCESS_LEVEL,
            connectionLimit: DEFAULT_RUNTIME_CONNECTION_LIMIT,
            rotation: 0,
            statementTimeoutMs: DEFAULT_STATEMENT_TIMEOUT_MS,
            idleInTransactionSessionTimeoutMs: DEFAULT_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS,
            idleSessionTimeoutMs: DEFAULT_IDLE_SESSION_TIMEOUT_MS,
            runsMigrations: false,
            schemas: ["public"],
        });
        expect(resolved).toMatchObject({ schemas: ["public"], runtimeSchemas: ["public"], adopt: {} });
    });

    it.each([
        ["access is not a level", { access: "admin" }, 'AppDatabase: `access` must be one of readwrite, readonly, migrations, got "admin"'],
        [
            "an extra role has no connections",
            { extraRoles: { shop_dashboard: { connectionLimit: 0 } } },
            "AppDatabase: `extraRoles.shop_dashboard.connectionLimit` must be a connection limit",
        ],
        [
            "an extra role asks for migrations",
            { extraRoles: { shop_dashboard: { access: "migrations" } } },
            "AppDatabase: `extraRoles.shop_dashboard.access` must be one of readwrite, readonly",
        ],
        [
            "an extra role's name is not an identifier",
            { extraRoles: { "Shop Dash": {} } },
            "AppDatabase: `extraRoles` key expected a plain PostgreSQL identifier",
        ],
        [
            "the runtime connection limit is 0",
            { runtimeConnectionLimit: 0 },
            "RolePair: `runtimeConnectionLimit` must be a connection limit",
        ],
        ["a schema is PostgreSQL's own", { schemas: ["pg_catalog"] }, 'AppDatabase: `schemas` "pg_catalog" is PostgreSQL\'s own schema'],
        ["a schema is listed twice", { schemas: ["app", "app"] }, 'AppDatabase: `schemas` "app" is listed twice'],
        [
            "an adopted role is not one of the app's",
            { adopt: { roles: { postgres_like: {} } } },
            "AppDatabase: `adopt.roles` names postgres_like: expected the app's own roles (shop_migrate, shop_app)",
        ],
        [
            "objects move in a database that is not adopted",
            { adopt: { moveObjects: { schemas: ["public"], from: ["postgres"] } } },
            "AppDatabase: `adopt.moveObjects` moves objects of an existing database: set adopt.database too",
        ],
        [
            "an owner change may wait 0 ms for its lock",
            { adopt: { database: true, moveObjects: { schemas: ["public"], from: ["postgres"], lockTimeoutMs: 0 } } },
            "AppDatabase: `adopt.moveObjects.lockTimeoutMs` must be a lock wait in milliseconds from 1 to 60000",
        ],
    ])("throws when %s, naming the argument and the value", (_what, change, message) => {
        expect(() => resolveAppDatabaseArgs({ app: "shop", server: server(), ...(change as object) })).toThrow(message);
    });
});
