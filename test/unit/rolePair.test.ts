/**
 * RolePair under Pulumi mocks: the two least-privilege logins, their passwords and rotation.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeEach, describe, expect, it } from "vitest";
import { declared, installMocks, MANAGED_ROLES, managedRoleNames, ofType, reset, settle, valueOf } from "./mocks";

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

/** The pair's one ManagedRoles resource, as declared. */
function managedRoles() {
    const all = ofType(MANAGED_ROLES);
    expect(all.map((r) => r.name)).toEqual(["grafana-role-pair"]);
    return all[0];
}

const ROLE_SETTINGS = "pulumi-nodejs:dynamic/app-databases:RoleSettings";

beforeEach(reset);

describe("RolePair", () => {
    it("declares two least-privilege login roles in one resource, with their own limits and timeouts", async () => {
        const pair = new RolePair("grafana", {
            app: "grafana",
            connection: server().connection,
            runtimeConnectionLimit: 7,
            migrateConnectionLimit: 2,
        });
        await valueOf(pair.runtimeUser);
        await settle();
        const roles = managedRoles();
        expect(roles.inputs.roles).toEqual({
            migrate: { name: "grafana_migrate", connectionLimit: 2, rotation: 0, memberOf: [] },
            runtime: {
                name: "grafana_app",
                connectionLimit: 7,
                rotation: 0,
                memberOf: [],
                statementTimeoutMs: 30_000,
                idleInTransactionSessionTimeoutMs: 60_000,
            },
        });
        expect(roles.secretInputs).toContain("connection");
        // A new stack has no roles to take over.
        expect(roles.inputs.existingPasswords).toBeUndefined();
        expect(await valueOf(pair.runtimePassword)).toBe("pw-grafana-role-pair-runtime");
        expect(await valueOf(pair.migratePassword)).toBe("pw-grafana-role-pair-migrate");
        expect(pair.roleResources).toHaveLength(1);
    });

    it("passes each role's rotation counter: the provider renews a password only when its counter changes", async () => {
        new RolePair("grafana", { app: "grafana", connection: server().connection, rotation: { runtime: 3, migrate: 1 } });
        await settle();
        const roles = managedRoles().inputs.roles;
        expect(roles.migrate.rotation).toBe(1);
        expect(roles.runtime.rotation).toBe(3);
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
        const roles = managedRoles().inputs.roles;
        const counters = Object.fromEntries(Object.entries(roles).map(([slot, spec]: [string, any]) => [slot, String(spec.rotation)]));
        expect(counters).toEqual({ migrate: "0", runtime: app, alternate: alt });
        expect(handedOut).toBe(user);
        expect(await valueOf(pair.runtimePassword)).toBe(
            user === "grafana_app" ? "pw-grafana-role-pair-runtime" : "pw-grafana-role-pair-alternate",
        );
        expect(roles.alternate).toMatchObject({ name: "grafana_app_alt", memberOf: ["grafana_app"], statementTimeoutMs: 30_000 });
    });

    it("makes no second login without zero-downtime rotation", async () => {
        new RolePair("grafana", { app: "grafana", connection: server().connection, rotation: { runtime: 1 } });
        await settle();
        expect(managedRoleNames(managedRoles())).toEqual(["grafana_migrate", "grafana_app"]);
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
