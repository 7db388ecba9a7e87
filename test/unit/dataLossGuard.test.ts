import { describe, expect, it } from "vitest";
import { changeProblems, guardChanged, moveProblem, removalProblem, renameProblem } from "../../components/dataLossGuard";

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
    it("refuses an unacknowledged move and says the data is copied and the old database kept", () => {
        expect(moveProblem("grafana", footprint, news)).toMatch(
            /apps.grafana moves from lab \(shared\) to dedicated-grafana \(dedicated\): the up copies database grafana into a new database on dedicated-grafana/,
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

describe("guardChanged", () => {
    const state = { protect: true, apps: { grafana: footprint }, retiredApps: [] };

    it("ignores the serialized provider, which changes with the program's code", () => {
        expect(guardChanged({ ...state, __provider: "old code" }, { ...state, __provider: "new code" })).toBe(false);
    });

    it.each([
        ["an app moves", { apps: { grafana: { ...footprint, server: "other" } } }],
        ["protection is lifted", { protect: false }],
        ["an app is retired", { retiredApps: ["grafana"] }],
    ])("sees a change when %s", (_what, change) => {
        expect(guardChanged({ ...state, __provider: "code" }, { ...state, ...change, __provider: "code" })).toBe(true);
    });
});
