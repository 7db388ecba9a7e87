import * as pulumi from "@pulumi/pulumi";
import { beforeEach, describe, expect, it } from "vitest";
import { declared, installMocks, ofType, reset, settle, valueOf } from "./mocks";

// Components are imported after the mocks are installed.
installMocks();
import { AppDatabase, RolePair, SharedServer } from "../../components";

const ROLE = "postgresql:index/role:Role";
const PASSWORD = "random:index/randomPassword:RandomPassword";
const DATABASE = "postgresql:index/database:Database";
const DEFAULT_PRIVILEGES = "postgresql:index/defaultPrivileges:DefaultPrivileges";
const ROLE_SETTINGS = "pulumi-nodejs:dynamic/app-databases:RoleSettings";
const DATABASE_ACCESS = "pulumi-nodejs:dynamic/app-databases:DatabaseAccess";

function server() {
    return new SharedServer("lab", {
        host: "10.0.0.5",
        port: 5433,
        sslmode: "require",
        adminUsername: "pulumi_admin",
        adminPassword: "admin-secret",
        provisioningConnections: 2,
    });
}

beforeEach(reset);

describe("RolePair", () => {
    it("declares two least-privilege login roles with their own limits and passwords", async () => {
        const pair = new RolePair("grafana", {
            app: "grafana",
            connection: server().connection,
            runtimeConnectionLimit: 7,
            migrateConnectionLimit: 2,
        });
        await valueOf(pair.runtimeUser);
        await settle();
        const roles = ofType(ROLE);
        expect(roles.map((r) => r.name)).toEqual(["grafana-migrate", "grafana-app"]);
        for (const role of roles) {
            expect(role.inputs).toMatchObject({
                login: true,
                superuser: false,
                createDatabase: false,
                createRole: false,
                replication: false,
                bypassRowLevelSecurity: false,
            });
        }
        expect(roles[0].inputs).toMatchObject({ name: "grafana_migrate", connectionLimit: 2 });
        expect(roles[0].inputs.statementTimeout).toBeUndefined();
        expect(roles[1].inputs).toMatchObject({
            name: "grafana_app",
            connectionLimit: 7,
            statementTimeout: 30_000,
            idleInTransactionSessionTimeout: 60_000,
        });
        expect(roles[1].inputs.password).toBe("pw-grafana-app-password");
        expect(roles[1].secretInputs).toContain("password");
    });

    it("generates one long, URL-safe password per role, replaced only by its rotation keeper", async () => {
        new RolePair("grafana", { app: "grafana", connection: server().connection, rotation: { runtime: 3 } });
        await settle();
        const passwords = ofType(PASSWORD);
        expect(passwords.map((p) => p.name)).toEqual(["grafana-migrate-password", "grafana-app-password"]);
        for (const p of passwords) expect(p.inputs).toMatchObject({ length: 40, special: false });
        expect(passwords[0].inputs.keepers).toEqual({ rotation: "0" });
        expect(passwords[1].inputs.keepers).toEqual({ rotation: "3" });
    });

    it("sets idle_session_timeout on the runtime role, which the provider cannot", async () => {
        new RolePair("grafana", { app: "grafana", connection: server().connection, idleSessionTimeoutMs: 120_000 });
        await settle();
        const settings = declared.filter((r) => r.type === ROLE_SETTINGS && r.name === "grafana-app-settings");
        expect(settings).toHaveLength(1);
        expect(settings[0].inputs.role).toBe("grafana_app");
        expect(settings[0].inputs.settings).toEqual({ idle_session_timeout: "120000" });
        expect(settings[0].secretInputs).toContain("connection");
    });

    it.each([
        // rotation, keeper of <app>_app, keeper of <app>_app_alt, login handed out
        [0, "0", "0", "grafana_app"],
        [1, "0", "1", "grafana_app_alt"],
        [2, "2", "1", "grafana_app"],
        [3, "2", "3", "grafana_app_alt"],
    ])("zero-downtime rotation %i renews only the login it hands out, the other keeps its password", async (rotation, app, alt, user) => {
        const pair = new RolePair("grafana", {
            app: "grafana",
            connection: server().connection,
            rotation: { runtime: rotation, zeroDowntime: true },
        });
        const handedOut = await valueOf(pair.runtimeUser);
        await settle();
        const keepers = Object.fromEntries(ofType(PASSWORD).map((p) => [p.name, p.inputs.keepers.rotation]));
        expect(keepers).toEqual({ "grafana-migrate-password": "0", "grafana-app-password": app, "grafana-app-alt-password": alt });
        expect(handedOut).toBe(user);
        expect(await valueOf(pair.runtimePassword)).toBe(
            user === "grafana_app" ? "pw-grafana-app-password" : "pw-grafana-app-alt-password",
        );
        const altRole = ofType(ROLE).find((r) => r.name === "grafana-app-alt")!;
        expect(altRole.inputs).toMatchObject({
            name: "grafana_app_alt",
            roles: ["grafana_app"],
            inherit: true,
            superuser: false,
            statementTimeout: 30_000,
        });
    });

    it("makes no second login without zero-downtime rotation", async () => {
        new RolePair("grafana", { app: "grafana", connection: server().connection, rotation: { runtime: 1 } });
        await settle();
        expect(ofType(ROLE).map((r) => r.inputs.name)).toEqual(["grafana_migrate", "grafana_app"]);
    });

    it("marks both passwords secret", async () => {
        const pair = new RolePair("grafana", { app: "grafana", connection: server().connection });
        expect(await pulumi.isSecret(pair.runtimePassword)).toBe(true);
        expect(await pulumi.isSecret(pair.migratePassword)).toBe(true);
    });

    it("throws when the app name gives an unusable role name", () => {
        expect(() => new RolePair("x", { app: "Bad Name", connection: server().connection })).toThrow(
            /RolePair: `app` gives role name Bad Name_migrate/,
        );
    });
});

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

    it("creates the database owned by the migrate role", async () => {
        const db = app();
        await valueOf(db.databaseName);
        await settle();
        const [database] = ofType(DATABASE);
        expect(database.name).toBe("grafana");
        expect(database.inputs).toMatchObject({ name: "grafana", owner: "grafana_migrate" });
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

    it("sets every role's idle_session_timeout from that one DatabaseAccess: one dynamic resource per app", async () => {
        app("readwrite", { grafana_ro: readonlyExtra(1500) });
        await settle();
        await settle();
        expect(ofType(ROLE_SETTINGS)).toEqual([]);
        expect(declared.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/")).map((r) => r.name)).toEqual(["grafana-access"]);
        const access = declared.find((r) => r.type === DATABASE_ACCESS)!;
        expect(access.inputs.roleSettings).toEqual([
            { role: "grafana_app", settings: { idle_session_timeout: "600000" } },
            { role: "grafana_ro", settings: { idle_session_timeout: "1500" } },
        ]);
    });

    it.each([
        ["readwrite", { table: ["DELETE", "INSERT", "SELECT", "UPDATE"], sequence: ["SELECT", "UPDATE", "USAGE"] }],
        ["readonly", { table: ["SELECT"], sequence: ["SELECT"] }],
        ["migrations", {}],
    ] as const)("grants %s through default privileges for the migrate role's objects", async (access, expected) => {
        const db = app(access);
        await valueOf(db.runtimeUrl);
        await settle();
        const grants = ofType(DEFAULT_PRIVILEGES);
        const byType = Object.fromEntries(grants.map((g) => [g.inputs.objectType, g.inputs.privileges]));
        expect(byType).toEqual(expected);
        for (const g of grants) {
            expect(g.inputs).toMatchObject({ database: "grafana", schema: "public", owner: "grafana_migrate", role: "grafana_app" });
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
        const ro = ofType(ROLE).find((r) => r.inputs.name === "grafana_ro")!;
        expect(ro.inputs).toMatchObject({ connectionLimit: 3, superuser: false, statementTimeout: 1000 });
        expect(ofType(PASSWORD).find((p) => p.name === "grafana-grafana_ro-password")!.inputs.keepers).toEqual({ rotation: "1" });
        expect(ofType(DEFAULT_PRIVILEGES).map((g) => [g.inputs.role, g.inputs.objectType])).toEqual([
            ["grafana_ro", "table"],
            ["grafana_ro", "sequence"],
        ]);
        expect(urls).toEqual({
            grafana_ro: "postgresql://grafana_ro:pw-grafana-grafana_ro-password@10.0.0.5:5433/grafana?sslmode=require&connect_timeout=10",
        });
    });

    it("outputs connection facts and secret URLs with sslmode and connect_timeout", async () => {
        const db = app();
        expect(await valueOf(db.host)).toBe("10.0.0.5");
        expect(await valueOf(db.port)).toBe(5433);
        expect(await valueOf(db.runtimeUser)).toBe("grafana_app");
        expect(await valueOf(db.migrateUser)).toBe("grafana_migrate");
        expect(await valueOf(db.runtimeUrl)).toBe(
            "postgresql://grafana_app:pw-grafana-app-password@10.0.0.5:5433/grafana?sslmode=require&connect_timeout=10",
        );
        expect(await valueOf(db.migrateUrl)).toContain("grafana_migrate:pw-grafana-migrate-password@");
        for (const secret of [db.runtimeUrl, db.migrateUrl, db.extraRoleUrls, db.internalRuntimeUrl] as pulumi.Output<unknown>[]) {
            expect(await pulumi.isSecret(secret)).toBe(true);
        }
        expect(await pulumi.isSecret(db.runtimeUser)).toBe(false);
    });

    it.each([true, false])("sets protect=%s on the database and every role", async (protect) => {
        const db = new AppDatabase("grafana", {
            app: "grafana",
            server: server(),
            protect,
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
        expect(flag(db.database)).toBe(protect);
        expect(flag(db.roles.migrateRole)).toBe(protect);
        expect(flag(db.roles.runtimeRole)).toBe(protect);
    });

    it("throws naming `database` when the database name is unusable", () => {
        expect(() => new AppDatabase("x", { app: "x", server: server(), database: "template1" })).toThrow(
            /AppDatabase: `database`.*system name/,
        );
    });
});

describe("SharedServer", () => {
    it("configures the provider with a small pool and the admin password as a secret", async () => {
        const s = server();
        await valueOf(s.connection);
        await settle();
        const [provider] = declared.filter((r) => r.type === "pulumi:providers:postgresql");
        expect(provider.inputs).toMatchObject({
            host: "10.0.0.5",
            port: "5433",
            username: "pulumi_admin",
            sslmode: "require",
            maxConnections: "2",
            superuser: "false",
        });
        expect(await pulumi.isSecret(s.connection)).toBe(true);
    });

    it("gives the provider and the dynamic resources the same CA and client certificate", async () => {
        const s = new SharedServer("lab", {
            host: "db.lab",
            sslmode: "verify-full",
            sslrootcert: "/etc/ssl/lab-ca.pem",
            adminSslcert: "/etc/ssl/admin.crt",
            adminSslkey: "/etc/ssl/admin.key",
            adminUsername: "pulumi_admin",
            adminPassword: "admin-secret",
        });
        const connection = await valueOf(s.connection);
        await settle();
        const [provider] = declared.filter((r) => r.type === "pulumi:providers:postgresql");
        expect(provider.inputs).toMatchObject({ sslmode: "verify-full", sslrootcert: "/etc/ssl/lab-ca.pem" });
        expect(JSON.parse(provider.inputs.clientcert)).toEqual({ cert: "/etc/ssl/admin.crt", key: "/etc/ssl/admin.key" });
        expect(connection).toMatchObject({
            sslmode: "verify-full",
            sslrootcert: "/etc/ssl/lab-ca.pem",
            sslcert: "/etc/ssl/admin.crt",
            sslkey: "/etc/ssl/admin.key",
        });
    });
});
