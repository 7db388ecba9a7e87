import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../program/config";
import { computeBudget, formatBudget } from "../../components/connectionBudget";
import { budgetsWithLiveRoles, previousConnections } from "../../program/liveBudget";
import { applyLiveRoles, LiveRole } from "../../program/liveRoles";
import { budgetArgs } from "../../program/stack";

const login = (name: string, connectionLimit: number, more: Partial<LiveRole> = {}): LiveRole => ({
    name,
    canLogin: true,
    connectionLimit,
    superuser: false,
    createRole: false,
    ...more,
});

const config = (server: Record<string, unknown> = {}) =>
    parseStackConfig({
        servers: {
            lab: {
                host: "h",
                admin: { username: "pulumi_admin", password: "p" },
                maxConnections: 60,
                externalRoles: { grafana_ro: 5, analytics_ro: 8 },
                ...server,
            },
        },
        apps: { shop: { connectionLimit: 10 } },
    });

// The server as the preflight reads it: the admin, the app's roles, the declared ones, a superuser.
const roles = [
    login("pulumi_admin", -1, { createRole: true }),
    login("postgres", -1, { superuser: true }),
    login("shop_app", 3),
    login("shop_migrate", -1),
    login("grafana_ro", 5),
    login("analytics_ro", 8),
    login("nologin_group", -1, { canLogin: false }),
];

describe("applyLiveRoles", () => {
    const live = (liveRoles: LiveRole[], server = {}) => {
        const c = config(server);
        return applyLiveRoles(budgetArgs(c)[0], c.servers.lab, liveRoles, new Set(["shop_app", "shop_migrate"]));
    };

    it("changes nothing when the server holds what the config says (managed roles, admin and superusers aside)", () => {
        const result = live(roles);
        expect(result.configProblems).toEqual([]);
        expect(result.warnings).toEqual([]);
        const report = computeBudget(result.args);
        expect(report.fits).toBe(true);
        expect(report.entries.find((e) => e.name === "postgres")).toMatchObject({ kind: "superuser on server", connections: 0 });
        expect(report.entries.map((e) => e.name)).not.toContain("pulumi_admin");
        expect(report.entries.map((e) => e.name)).not.toContain("nologin_group");
    });

    it("reports a declared external role that does not exist, by its config path", () => {
        const result = live(roles.filter((r) => r.name !== "analytics_ro"));
        expect(result.configProblems).toEqual([
            "servers.lab.externalRoles.analytics_ro: role analytics_ro does not exist on server lab; create it there, or remove it from externalRoles",
        ]);
    });

    it.each([
        [12, 5, 12],
        [3, 5, 5],
    ])("counts the larger of server limit %i and config %i, and says so", (server, declared, counted) => {
        const result = live(
            roles.map((r) => (r.name === "grafana_ro" ? login("grafana_ro", server) : r)),
            {
                externalRoles: { grafana_ro: declared, analytics_ro: 8 },
            },
        );
        const entry = computeBudget(result.args).entries.find((e) => e.name === "grafana_ro");
        expect(entry).toMatchObject({ kind: "external role", connections: counted });
        expect(entry?.note).toBe(`server limit ${server}, config ${declared}: counting the larger`);
        expect(result.warnings[0]).toContain(`the budget counts ${counted}`);
    });

    it("warns, and goes on, on an undeclared login role with no CONNECTION LIMIT when unmanagedLoginRoles is warn", () => {
        const result = live([...roles, login("legacy_etl", -1)]);
        const report = computeBudget(result.args);
        expect(report.fits).toBe(true);
        expect(report.problems).toEqual([]);
        expect(result.warnings).toEqual([
            "login role legacy_etl on server lab has no CONNECTION LIMIT: it can take every free connection. " +
                "Run ALTER ROLE legacy_etl CONNECTION LIMIT n; on the server, or declare it: servers.lab.externalRoles.legacy_etl: n " +
                "(servers.lab.unmanagedLoginRoles: fail refuses the preview on it)",
        ]);
    });

    it("counts a retired app's roles as its own, without warning about them", () => {
        const c = config();
        const retired = new Map([
            ["ledger_app", "ledger"],
            ["ledger_migrate", "ledger"],
        ]);
        const result = applyLiveRoles(
            budgetArgs(c)[0],
            c.servers.lab,
            [...roles, login("ledger_app", 5), login("ledger_migrate", 2), login("metabase", 3)],
            new Set(["shop_app", "shop_migrate"]),
            undefined,
            retired,
        );
        expect(result.warnings).toEqual([
            "server lab has login roles the config does not name: metabase. Declare them under servers.lab.externalRoles",
        ]);
        expect(computeBudget(result.args).entries.find((e) => e.name === "ledger_app")).toMatchObject({
            kind: "unmanaged on server",
            connections: 5,
            note: "of retired app ledger (retiredApps): left on the server",
        });
    });

    it("fails the budget on an undeclared login role with no CONNECTION LIMIT when unmanagedLoginRoles is fail, naming it and the fix", () => {
        const report = computeBudget(live([...roles, login("legacy_etl", -1)], { unmanagedLoginRoles: "fail" }).args);
        expect(report.fits).toBe(false);
        expect(report.problems).toEqual([
            "login role legacy_etl on server lab has no CONNECTION LIMIT: it can take every free connection. " +
                "Run ALTER ROLE legacy_etl CONNECTION LIMIT n; on the server, or declare it: servers.lab.externalRoles.legacy_etl: n",
        ]);
        expect(formatBudget(report)).toMatch(/legacy_etl\s+unmanaged on server\s+none\s+\?\s+no CONNECTION LIMIT/);
    });

    it("counts undeclared login roles as unmanaged on server and warns by default", () => {
        const result = live([...roles, login("backup_agent", 2), login("metabase", 4)]);
        const report = computeBudget(result.args);
        expect(report.fits).toBe(true);
        expect(report.entries.filter((e) => e.kind === "unmanaged on server").map((e) => [e.name, e.connections])).toEqual([
            ["backup_agent", 2],
            ["metabase", 4],
        ]);
        expect(result.warnings).toEqual([
            "server lab has login roles the config does not name: backup_agent, metabase. Declare them under servers.lab.externalRoles",
        ]);
    });

    it("fails on undeclared login roles when the server says unmanagedLoginRoles: fail", () => {
        const report = computeBudget(live([...roles, login("metabase", 4)], { unmanagedLoginRoles: "fail" }).args);
        expect(report.fits).toBe(false);
        expect(report.problems[0]).toContain("or set servers.lab.unmanagedLoginRoles: warn");
        expect(formatBudget(report).split("\n").at(-1)).toBe("What to do: fix the problem marked ! above; nothing was applied.");
    });

    it("notes a declared role the server leaves unbounded and counts the declared number", () => {
        const result = live(roles.map((r) => (r.name === "grafana_ro" ? login("grafana_ro", -1) : r)));
        expect(computeBudget(result.args).fits).toBe(true);
        expect(result.warnings).toEqual([
            "server lab: grafana_ro has no CONNECTION LIMIT; the budget counts the declared 5 (ALTER ROLE grafana_ro CONNECTION LIMIT 5; enforces it)",
        ]);
    });
});

describe("budgetsWithLiveRoles", () => {
    it("does not count roles the last up managed and this one drops as unmanaged", () => {
        const c = config();
        const previous = { lab: computeBudget({ ...budgetArgs(c)[0], roles: { old_app: 10, old_migrate: 2 } }) };
        const result = budgetsWithLiveRoles(c, { lab: [...roles, login("old_app", 10), login("old_migrate", 2)] }, previous);
        expect(result.warnings).toEqual([]);
        expect(computeBudget(result.args[0]).entries.map((e) => e.name)).not.toContain("old_app");
    });
});

describe("the over-budget table against the last up", () => {
    const c = parseStackConfig({
        servers: { lab: { host: "h", admin: { username: "a", password: "p" }, maxConnections: 100 } },
        apps: { gateway: { connectionLimit: 15 }, webhook: { connectionLimit: 10 }, cron: { connectionLimit: 5 } },
    });
    const before = computeBudget(budgetArgs(c)[0]);
    const raised = computeBudget({ ...budgetArgs(c)[0], roles: { ...budgetArgs(c)[0].roles, gateway_app: 95 } });

    it("marks the row that changed and the largest shares, and says what to do last", () => {
        const table = formatBudget(raised, previousConnections({ lab: before }).lab);
        const lines = table.split("\n");
        expect(lines.find((l) => l.includes("gateway_app"))).toMatch(/^~\^ gateway_app\s+app role\s+95\s+95\.0%$/);
        expect(lines.find((l) => l.includes("webhook_app"))).toMatch(/^\^\s+webhook_app/);
        expect(lines.find((l) => l.includes("cron_migrate"))).toMatch(/^\s+cron_migrate/);
        expect(lines.at(-1)).toBe(
            `What to do: free ${raised.total - 100} connections by lowering gateway_app (15 -> 95 since the last up), ` +
                `or raise max_connections of lab to at least ${raised.total}; nothing was applied.`,
        );
    });

    it("names the largest shares when nothing changed since the last up (or there was none)", () => {
        expect(formatBudget(raised).split("\n").at(-1)).toContain("by lowering gateway_app (95), webhook_app (10), cron_app (5)");
    });
});

describe("roles another stack manages", () => {
    const c = config();
    const theirs = [login("crm_app", 40, { managedBy: "p/other" }), login("crm_migrate", 2, { managedBy: "p/other" })];
    const result = budgetsWithLiveRoles(
        c,
        { lab: [...roles, ...theirs, login("mine_left", 1, { managedBy: "p/this" })] },
        undefined,
        "p/this",
    );
    const report = computeBudget(result.args[0]);

    it("are counted as that stack's, not as unmanaged on server", () => {
        expect(report.entries.find((e) => e.name === "crm_app")).toMatchObject({
            kind: "another stack",
            connections: 40,
            stack: "p/other",
        });
        // This stack's own mark on a role it no longer names: unmanaged, as before.
        expect(report.entries.find((e) => e.name === "mine_left")).toMatchObject({ kind: "unmanaged on server" });
        expect(result.warnings).toEqual([
            "server lab has login roles the config does not name: mine_left. Declare them under servers.lab.externalRoles",
        ]);
    });

    it("are named as that stack's in what to do, never as this stack's to lower", () => {
        expect(report.fits).toBe(false);
        expect(formatBudget(report).split("\n").at(-1)).toBe(
            `What to do: free ${report.total - 60} connections by lowering this stack's own shop_app (10), shop_migrate (2), ` +
                `or raise max_connections of lab to at least ${report.total}; ` +
                "crm_app (40), crm_migrate (2) belong to stack p/other: lower those in that stack, not here; nothing was applied.",
        );
    });
});
