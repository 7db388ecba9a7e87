import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { declared, installMocks, MANAGED_ROLES, managedRoleNames, settle, valueOf } from "./mocks";

// The program reads stack config when imported: set it, then import index.ts.
installMocks("dev");
pulumi.runtime.setAllConfig(
    {
        "app-databases:servers": JSON.stringify({
            local: {
                host: "127.0.0.1",
                port: 55432,
                sslmode: "disable",
                admin: { username: "postgres", password: "admin-pw", superuser: true },
                externalRoles: { grafana_ro: 4 },
                clientCidrs: ["10.42.0.0/16", "10.42.7.0/24"],
            },
        }),
        "app-databases:apps": JSON.stringify({
            grafana: { connectionLimit: 5 },
            claude_bridge: { access: "migrations", extraRoles: { bridge_ro: { connectionLimit: 2 } } },
        }),
        "app-databases:protect": "true",
        // Unit tests reach no server; the preflight is exercised end to end.
        "app-databases:preflight": "false",
    },
    ["app-databases:servers"],
);

describe("index.ts", async () => {
    const program = await (await import("../../index")).default();
    await valueOf(program.apps.grafana.runtimeUrl);
    await settle();

    it("declares one AppDatabase and DatabaseAccess per app and one budget per server", () => {
        const count = (type: string) => declared.filter((r) => r.type === type).map((r) => r.name);
        expect(count("app-databases:index:AppDatabase")).toEqual(["grafana@local", "claude_bridge@local"]);
        // DatabaseAccess makes each created database's roles: no RolePair, no ManagedRoles.
        expect(count("app-databases:index:RolePair")).toEqual([]);
        expect(count("pulumi-nodejs:dynamic/app-databases:DataLossGuard")).toEqual(["app-databases-guard"]);
        expect(count("app-databases:index:ConnectionBudget")).toEqual(["local"]);
        expect(count("app-databases:index:SharedServer")).toEqual(["local"]);
        // DatabaseAccess makes each database: the provider's Database is gone.
        expect(count("pulumi-nodejs:dynamic/app-databases:DatabaseAccess").filter((n) => n.endsWith("@local-access"))).toEqual([
            "grafana@local-access",
            "claude_bridge@local-access",
        ]);
        expect(count("postgresql:index/database:Database")).toEqual([]);
        expect(count(MANAGED_ROLES)).toEqual([]);
        const access = declared.find((r) => r.name === "claude_bridge@local-access")!;
        expect(managedRoleNames(access).sort()).toEqual(["bridge_ro", "claude_bridge_app", "claude_bridge_migrate"]);
        expect(count("postgresql:index/role:Role")).toEqual([]);
        expect(count("random:index/randomPassword:RandomPassword")).toEqual([]);
    });

    it("exports each app's connection facts, with URLs secret", async () => {
        const grafana = program.apps.grafana;
        expect(await valueOf(grafana.host)).toBe("127.0.0.1");
        expect(await valueOf(grafana.port)).toBe(55432);
        expect(await valueOf(grafana.database)).toBe("grafana");
        expect(await valueOf(grafana.runtimeUser)).toBe("grafana_app");
        expect(await valueOf(grafana.runtimeUrl)).toBe(
            "postgresql://grafana_app:pw-grafana%40local-access-runtime@127.0.0.1:55432/grafana?sslmode=disable&connect_timeout=10",
        );
        for (const app of Object.values(program.apps)) {
            for (const url of [app.runtimeUrl, app.migrateUrl, app.extraRoleUrls] as pulumi.Output<unknown>[]) {
                expect(await pulumi.isSecret(url)).toBe(true);
            }
        }
    });

    it("exports the budget report of every server", async () => {
        const report = await valueOf(program.budgets.local);
        // 5+2 grafana, 10+2+2 claude_bridge, 4 external, 2+1 provisioning, 3 reserved, 5 headroom
        expect(report).toMatchObject({ server: "local", maxConnections: 100, total: 36, fits: true });
    });

    it("exports the narrow pg_hba lines, narrowest network first, then a reject line per role", () => {
        expect(program.pgHba.local).toEqual([
            "# app-databases (local): narrow rules, above the broad fallback",
            "host    claude_bridge bridge_ro             10.42.7.0/24 scram-sha-256",
            "host    claude_bridge claude_bridge_app     10.42.7.0/24 scram-sha-256",
            "host    claude_bridge claude_bridge_migrate 10.42.7.0/24 scram-sha-256",
            "host    grafana       grafana_app           10.42.7.0/24 scram-sha-256",
            "host    grafana       grafana_migrate       10.42.7.0/24 scram-sha-256",
            "host    claude_bridge bridge_ro             10.42.0.0/16 scram-sha-256",
            "host    claude_bridge claude_bridge_app     10.42.0.0/16 scram-sha-256",
            "host    claude_bridge claude_bridge_migrate 10.42.0.0/16 scram-sha-256",
            "host    grafana       grafana_app           10.42.0.0/16 scram-sha-256",
            "host    grafana       grafana_migrate       10.42.0.0/16 scram-sha-256",
            "# app-databases (local): the same roles from anywhere else, or to any other database",
            "host    all           bridge_ro             all          reject",
            "host    all           claude_bridge_app     all          reject",
            "host    all           claude_bridge_migrate all          reject",
            "host    all           grafana_app           all          reject",
            "host    all           grafana_migrate       all          reject",
        ]);
    });

    it("declares one data-loss guard that knows every app's footprint", () => {
        const guard = declared.find((r) => r.type === "pulumi-nodejs:dynamic/app-databases:DataLossGuard")!;
        expect(guard.inputs.protect).toBe(true);
        expect(guard.inputs.apps.grafana).toEqual({
            server: "local",
            placement: "shared",
            database: "grafana",
            roles: ["grafana_migrate", "grafana_app"],
        });
    });

    it("keeps the admin password secret in the provider and the dynamic resources", () => {
        const provider = declared.find((r) => r.type === "pulumi:providers:postgresql")!;
        expect(provider.inputs.password).toBe("admin-pw");
        expect(provider.secretInputs).toContain("password");
        for (const r of declared.filter((d) => d.type.startsWith("pulumi-nodejs:dynamic/") && !d.type.endsWith("DataLossGuard"))) {
            expect(r.secretInputs, r.name).toContain("connection");
        }
    });
});
