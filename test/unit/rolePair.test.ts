/**
 * RolePair under Pulumi mocks: the two least-privilege logins, their passwords and rotation.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeEach, describe, expect, it } from "vitest";
import { declared, installMocks, ofType, reset, settle, valueOf } from "./mocks";

// Components are imported after the mocks are installed.
installMocks();
import { RolePair } from "../../components";
import {
    DEFAULT_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS,
    DEFAULT_IDLE_SESSION_TIMEOUT_MS,
    DEFAULT_MIGRATE_CONNECTION_LIMIT,
    DEFAULT_RUNTIME_CONNECTION_LIMIT,
    DEFAULT_STATEMENT_TIMEOUT_MS,
} from "../../components/defaults";
import { resolveRolePairArgs } from "../../components/rolePair";
import { labServer as server } from "./fixtures";

const ROLE = "postgresql:index/role:Role";
const PASSWORD = "random:index/randomPassword:RandomPassword";
const ROLE_SETTINGS = "pulumi-nodejs:dynamic/app-databases:RoleSettings";

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

describe("resolveRolePairArgs", () => {
    const connection = server().connection;

    it("fills every default from the named constants", () => {
        expect(resolveRolePairArgs({ app: "grafana", connection })).toEqual({
            app: "grafana",
            connection,
            runtimeConnectionLimit: DEFAULT_RUNTIME_CONNECTION_LIMIT,
            migrateConnectionLimit: DEFAULT_MIGRATE_CONNECTION_LIMIT,
            statementTimeoutMs: DEFAULT_STATEMENT_TIMEOUT_MS,
            idleInTransactionSessionTimeoutMs: DEFAULT_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS,
            idleSessionTimeoutMs: DEFAULT_IDLE_SESSION_TIMEOUT_MS,
            rotation: { runtime: 0, migrate: 0, zeroDowntime: false },
            protect: false,
            roleNames: {},
            adoptRoles: {},
        });
    });

    it.each([
        [
            "a connection limit is 0",
            { runtimeConnectionLimit: 0 },
            "RolePair: `runtimeConnectionLimit` must be a connection limit as an integer from 1 to 10000, got 0",
        ],
        [
            "a timeout is negative",
            { statementTimeoutMs: -1 },
            "RolePair: `statementTimeoutMs` must be milliseconds as an integer >= 0 (0 disables the timeout), got -1",
        ],
        [
            "a rotation counter is fractional",
            { rotation: { runtime: 1.5 } },
            "RolePair: `rotation.runtime` must be a rotation counter as an integer >= 0 (bump it to rotate), got 1.5",
        ],
    ])("throws when %s, naming the argument and the value", (_what, change, message) => {
        expect(() => resolveRolePairArgs({ app: "grafana", connection, ...change })).toThrow(message);
    });
});
