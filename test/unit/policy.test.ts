/**
 * The policy pack's rules (policy/rules.ts): each violation's text, and what
 * passes. The pack itself runs under the real engine in test/e2e/policy.test.ts.
 */
import { describe, expect, it } from "vitest";
import {
    backupViolations,
    DEFAULT_CONFIG,
    headroomViolations,
    isProdStack,
    privilegedRoleViolations,
    stackOfUrn,
    tlsViolations,
    TYPES,
    unboundedRoleViolations,
} from "../../policy/rules";

const access = (roles: Record<string, unknown>, roleBudget?: Record<string, unknown>) => ({ roles, ...(roleBudget ? { roleBudget } : {}) });

describe("no-privileged-roles", () => {
    it("names every privileged attribute of a hand-written role and the inputs to turn off", () => {
        expect(privilegedRoleViolations(TYPES.role, { name: "ops", superuser: true, createRole: true, login: true })).toEqual([
            "role ops has SUPERUSER, CREATEROLE: an app role needs none of them; set superuser, createRole to false",
        ]);
    });
    it("refuses membership of roles that give server powers, on hand-written roles and the tool's own", () => {
        expect(privilegedRoleViolations(TYPES.role, { name: "etl", roles: ["pg_read_server_files", "reporting"] })).toEqual([
            "role etl is a member of pg_read_server_files, which gives it the powers of the server's operating system user or superuser; remove it from its memberOf",
        ]);
        expect(
            privilegedRoleViolations(TYPES.databaseAccess, access({ runtime: { name: "shop_app", memberOf: ["postgres"] } })),
        ).toHaveLength(1);
    });
    it("passes least-privilege roles and other resource types", () => {
        expect(privilegedRoleViolations(TYPES.role, { name: "shop_app", superuser: false, login: true })).toEqual([]);
        expect(
            privilegedRoleViolations(TYPES.databaseAccess, access({ runtime: { name: "shop_app", memberOf: ["pg_read_all_data"] } })),
        ).toEqual([]);
        expect(privilegedRoleViolations("docker:index/container:Container", { superuser: true })).toEqual([]);
    });
});

describe("bounded-login-roles", () => {
    it("refuses a login role without a limit (unset or -1), not a group role", () => {
        expect(unboundedRoleViolations(TYPES.role, { name: "svc", login: true })).toEqual([
            "login role svc has no CONNECTION LIMIT (connectionLimit unset, no limit); set connectionLimit to what it needs",
        ]);
        expect(unboundedRoleViolations(TYPES.role, { name: "svc", login: true, connectionLimit: -1 })).toHaveLength(1);
        expect(unboundedRoleViolations(TYPES.role, { name: "readers", login: false })).toEqual([]);
        expect(unboundedRoleViolations(TYPES.role, { name: "svc", login: true, connectionLimit: 0 })).toEqual([]);
    });
    it("reads the tool's login roles from DatabaseAccess", () => {
        const props = access({ migrate: { name: "shop_migrate", connectionLimit: 2 }, runtime: { name: "shop_app", connectionLimit: -1 } });
        expect(unboundedRoleViolations(TYPES.databaseAccess, props)).toEqual([
            "login role shop_app has no CONNECTION LIMIT; set apps.<app>.connectionLimit / migrateConnectionLimit",
        ]);
    });
});

describe("verify-full-on-prod", () => {
    it("names the server and the config to set", () => {
        expect(tlsViolations(TYPES.provider, "main-provider", { host: "db.lab", port: 5432, sslmode: "require" }, undefined)).toEqual([
            "the admin connection to server main (db.lab:5432) uses sslmode require; a prod stack needs verify-full: set servers.main.sslmode to verify-full and servers.main.sslrootcert to the CA's certificate",
        ]);
    });
    it("passes verify-full, and the provider of a dedicated server (its own container network)", () => {
        expect(tlsViolations(TYPES.provider, "main-provider", { sslmode: "verify-full" }, undefined)).toEqual([]);
        expect(tlsViolations(TYPES.provider, "dedicated-x-provider", { sslmode: "disable" }, TYPES.dedicatedServer)).toEqual([]);
    });
    it("tells prod stacks by name, from the resource's URN", () => {
        expect(stackOfUrn("urn:pulumi:prod-eu::app-databases::pulumi:providers:postgresql::main-provider")).toBe("prod-eu");
        expect(isProdStack("prod-eu", DEFAULT_CONFIG.prodStacks)).toBe(true);
        expect(isProdStack("dev", DEFAULT_CONFIG.prodStacks)).toBe(false);
        expect(isProdStack("live", ["^live$", "^prod"])).toBe(true);
    });
});

describe("budget-headroom", () => {
    const budget = { server: "main", maxConnections: 100, fixed: 11, externalRoles: { grafana: 10 }, stackTotal: 72 };
    it("counts fixed, external and the stack's roles against max_connections", () => {
        expect(headroomViolations(TYPES.databaseAccess, access({}, budget), 0.1)).toEqual([
            "server main keeps 7 of max_connections 100 free (7%), less than the 10% asked (10); lower apps' connections, or raise max_connections and servers.main.maxConnections",
        ]);
        expect(headroomViolations(TYPES.databaseAccess, access({}, budget), 0.05)).toEqual([]);
    });
    it("has nothing to say without a budget (a dedicated server's access)", () => {
        expect(headroomViolations(TYPES.databaseAccess, access({}), 0.5)).toEqual([]);
    });
});

describe("backups-on-prod", () => {
    const app = (name: string) => ({ type: TYPES.appDatabase, name: `${name}@main` });
    it("names the stack's apps when nothing backs them up", () => {
        expect(backupViolations([app("shop"), app("ledger"), { type: TYPES.provider, name: "main-provider" }])).toEqual([
            'the stack has 2 app databases (shop, ledger) and no backups: set the stack\'s backup block (README "Backups and restores")',
        ]);
    });
    it("passes a stack with a backup runner, and one without apps", () => {
        expect(backupViolations([app("shop"), { type: TYPES.backupRunner, name: "backups" }])).toEqual([]);
        expect(backupViolations([{ type: TYPES.provider, name: "main-provider" }])).toEqual([]);
    });
});
