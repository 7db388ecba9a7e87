import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../program/config";
import { hbaConnectionType } from "../../program/pgHba";
import { moveProblem, changeProblems, removalProblem, renameProblem } from "../../components/dataLossGuard";
import { factProblems } from "../../program/preflight";

const footprint = { server: "lab", placement: "shared", database: "grafana", roles: ["grafana_migrate", "grafana_app"] };

describe("removalProblem", () => {
    it("says what would be lost when an app leaves a protected stack", () => {
        const message = removalProblem({ apps: { grafana: footprint } }, { protect: true, apps: {}, retiredApps: [] });
        expect(message).toContain("apps.grafana: database grafana on lab with all its data, and roles grafana_migrate, grafana_app");
        expect(message).toContain("Nothing was applied");
        expect(message).toContain("add grafana to app-databases:retiredApps");
    });

    it.each([
        ["the stack is not protected", { protect: false, apps: {}, retiredApps: [] }],
        ["the app is retired deliberately", { protect: true, apps: {}, retiredApps: ["grafana"] }],
        ["the app is still there", { protect: true, apps: { grafana: footprint }, retiredApps: [] }],
    ])("lets it through when %s", (_case, news) => {
        expect(removalProblem({ apps: { grafana: footprint } }, news)).toBeUndefined();
    });

    it("lets a first deployment through", () => {
        expect(removalProblem(undefined, { protect: true, apps: {}, retiredApps: [] })).toBeUndefined();
    });
});

describe("moveProblem", () => {
    const news = { ...footprint, server: "dedicated-grafana", placement: "dedicated" };
    it("refuses an unacknowledged move and says a new, empty database is made", () => {
        expect(moveProblem("grafana", footprint, news)).toMatch(
            /apps.grafana moves from lab \(shared\) to dedicated-grafana \(dedicated\): this creates a NEW, EMPTY database/,
        );
    });
    it.each([
        ["no earlier state", undefined],
        ["the same server", news],
    ])("allows %s", (_case, olds) => {
        expect(moveProblem("grafana", olds, news)).toBeUndefined();
    });
    it("allows an acknowledged move", () => {
        expect(moveProblem("grafana", footprint, { ...news, allowMoveFrom: "lab" })).toBeUndefined();
    });
    it("reports every moved app of the stack and none of the others", () => {
        const olds = { apps: { grafana: footprint, shop: { ...footprint, database: "shop" }, fresh: undefined } };
        const problems = changeProblems(olds as never, {
            protect: false,
            retiredApps: [],
            apps: { grafana: news, shop: { ...footprint, database: "shop" }, fresh: { ...footprint, server: "other" } },
        });
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(/^apps.grafana moves from lab/);
    });
});

describe("renameProblem", () => {
    it("refuses a changed database name on the same server and says how to keep the old one", () => {
        expect(renameProblem("grafana", footprint, { ...footprint, database: "grafana_v2" })).toBe(
            "apps.grafana.database changes from grafana to grafana_v2 on lab: renaming an app's database is not supported " +
                "(its grants name the old database). Set apps.grafana.database: grafana to keep it; the app's name and its database's name may differ.",
        );
    });
    it.each([
        ["a new app", undefined],
        ["the same name", footprint],
        ["a move to another server (the move guard speaks)", { ...footprint, server: "other" }],
    ])("lets %s through", (_case, olds) => {
        expect(renameProblem("grafana", olds, { ...footprint, database: olds === footprint ? "grafana" : "grafana_v2" })).toBeUndefined();
    });
});

describe("factProblems", () => {
    const server = parseStackConfig({ servers: { lab: { host: "h", admin: { username: "a", password: "p" }, maxConnections: 200 } } })
        .servers.lab;
    it("flags a budget computed on more connections than the server has", () => {
        expect(factProblems("lab", server, { versionNum: 160004, maxConnections: 100, superuserReservedConnections: 3 })).toEqual([
            "servers.lab.maxConnections is 200 but the server's max_connections is 100: the budget would be computed on connections that do not exist",
        ]);
    });
    it("flags a server older than PostgreSQL 14 and a larger reserve than configured", () => {
        expect(factProblems("lab", server, { versionNum: 130010, maxConnections: 300, superuserReservedConnections: 5 })).toEqual([
            "server lab runs PostgreSQL 13; 14 or newer is needed (idle_session_timeout)",
            "servers.lab.superuserReservedConnections is 3 but the server reserves 5",
        ]);
    });
    it("is quiet when the server matches the plan", () => {
        expect(factProblems("lab", server, { versionNum: 150018, maxConnections: 200, superuserReservedConnections: 3 })).toEqual([]);
    });
});

describe("pg_hba helpers", () => {
    it.each([
        ["require", "hostssl"],
        ["verify-full", "hostssl"],
        ["prefer", "host"],
        ["disable", "host"],
    ])("uses %s -> %s", (sslmode, type) => {
        expect(hbaConnectionType(sslmode)).toBe(type);
    });
    it.each(["10.0.0.0/33", "10.0.0/8", "fe80::/129", "lab-net"])("rejects the CIDR %s with its path", (cidr) => {
        expect(() =>
            parseStackConfig({ servers: { lab: { host: "h", admin: { username: "a", password: "p" }, clientCidrs: [cidr] } } }),
        ).toThrow(/servers\.lab\.clientCidrs\.0: expected a network in CIDR notation/);
    });
});
