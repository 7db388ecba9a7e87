import { describe, expect, it } from "vitest";
import { BudgetError, computeBudget, ConnectionBudget, formatBudget, resolveConnectionBudgetArgs } from "../../components/connectionBudget";
import { parseStackConfig } from "../../program/config";
import { checkBudgets } from "../../program/stack";
import { installMocks } from "./mocks";

// A shared TimescaleDB server: max_connections 100, 3 reserved, six service roles and four existing ones.
const timescalePlan = {
    server: "timescale",
    maxConnections: 100,
    roles: { webhook_app: 10, ingest_app: 10, worker_app: 5, dashboard_app: 8, gateway_app: 15, cron_app: 5 },
    externalRoles: { analytics_ro: 8, dashboard_ro: 12, grafana_ro: 5, reporting_refresher: 3 },
    provisioningConnections: 2,
    superuserReservedConnections: 3,
    adminHeadroom: 5,
};

describe("computeBudget", () => {
    it("fits an 81-connection plan of ten roles under 100 with 3 reserved and headroom", () => {
        const report = computeBudget(timescalePlan);
        const roleTotal = report.entries
            .filter((e) => e.kind === "app role" || e.kind === "external role")
            .reduce((s, e) => s + e.connections, 0);
        expect(roleTotal).toBe(81);
        expect(report.total).toBe(81 + 2 + 3 + 5);
        expect(report.fits).toBe(true);
        expect(report.free).toBe(9);
    });

    it("fails a plan over max_connections and names every role with its share", () => {
        const report = computeBudget({ ...timescalePlan, roles: { ...timescalePlan.roles, gateway_app: 30 } });
        expect(report.fits).toBe(false);
        expect(report.free).toBe(-6);
        const table = formatBudget(report);
        expect(table).toContain("OVER BUDGET by 6");
        for (const role of [...Object.keys(timescalePlan.roles), ...Object.keys(timescalePlan.externalRoles)])
            expect(table).toContain(role);
        expect(table).toMatch(/gateway_app\s+app role\s+30\s+30\.0%/);
        expect(table).toMatch(/analytics_ro\s+external role\s+8\s+8\.0%/);
        expect(table).toMatch(/\(superuser_reserved_connections\)\s+superuser reserved\s+3/);
    });

    it("counts exactly max_connections as fitting", () => {
        expect(computeBudget({ ...timescalePlan, adminHeadroom: 14 }).fits).toBe(true);
        expect(computeBudget({ ...timescalePlan, adminHeadroom: 15 }).fits).toBe(false);
    });

    it("sizes max_connections from the budget when none is given", () => {
        const report = computeBudget({ ...timescalePlan, maxConnections: undefined });
        expect(report.maxConnections).toBe(91);
        expect(report.fits).toBe(true);
    });
});

describe("ConnectionBudget component", () => {
    it("throws when the budget does not fit, with the table in the message", () => {
        installMocks();
        expect(() => new ConnectionBudget("timescale", { ...timescalePlan, maxConnections: 50 })).toThrow(BudgetError);
        expect(() => new ConnectionBudget("timescale", { ...timescalePlan, maxConnections: 50 })).toThrow(/webhook_app/);
    });
});

describe("checkBudgets over stack config", () => {
    const config = (connectionLimit: number) =>
        parseStackConfig({
            servers: { lab: { host: "h", admin: { username: "a", password: "p" }, maxConnections: 40, externalRoles: { grafana_ro: 5 } } },
            apps: { one: { connectionLimit }, two: { connectionLimit: 5, extraRoles: { two_ro: { connectionLimit: 3 } } } },
        });

    it("passes when every role fits", () => {
        // 10+2 + 5+2+3 + 5 external + 2+1 provisioning (pool + dynamic resources) + 3 reserved + 5 headroom = 38
        const [report] = checkBudgets(config(10));
        expect(report.total).toBe(38);
        expect(report.entries.map((e) => e.name)).toEqual([
            "one_migrate",
            "one_app",
            "two_migrate",
            "two_app",
            "two_ro",
            "grafana_ro",
            "(provisioning tool)",
            "(superuser_reserved_connections)",
            "(admin headroom)",
        ]);
    });

    it("throws naming the roles when one app's limit pushes the server over", () => {
        expect(() => checkBudgets(config(14))).toThrow(/Connection budget for server lab: 42 of max_connections 40 \(OVER BUDGET by 2\)/);
        expect(() => checkBudgets(config(14))).toThrow(/one_app\s+app role\s+14/);
    });
});

describe("resolveConnectionBudgetArgs", () => {
    it("accepts a valid plan as it is", () => {
        expect(resolveConnectionBudgetArgs(timescalePlan)).toEqual(timescalePlan);
    });

    it.each([
        ["a role's limit is 0", { roles: { webhook_app: 0 } }, "ConnectionBudget: `roles.webhook_app` must be a connection limit"],
        [
            "max_connections is fractional",
            { maxConnections: 99.5 },
            "ConnectionBudget: `maxConnections` must be max_connections as an integer, got 99.5",
        ],
        ["the headroom is negative", { adminHeadroom: -1 }, "ConnectionBudget: `adminHeadroom` must be an integer >= 0, got -1"],
    ])("throws when %s, naming the argument and the value", (_what, change, message) => {
        expect(() => resolveConnectionBudgetArgs({ ...timescalePlan, ...change })).toThrow(message);
    });
});
