import { describe, expect, it } from "vitest";
import { computeBudget } from "../../components/connectionBudget";
import { budgetEntries, keyedAccess, keyedBudget } from "../../program/keyedOutputs";
import { previousConnections } from "../../program/liveBudget";

const report = (roles: Record<string, number>) =>
    computeBudget({
        server: "lab",
        maxConnections: 100,
        roles,
        provisioningConnections: 2,
        superuserReservedConnections: 3,
        adminHeadroom: 5,
    });

describe("keyedBudget", () => {
    it("keys the entries by name, so one role added is one key added", () => {
        const before = keyedBudget(report({ b_app: 5, c_app: 5 }));
        const after = keyedBudget(report({ a_app: 5, b_app: 5, c_app: 5 }));
        const added = Object.keys(after.entries).filter((k) => !(k in before.entries));
        expect(added).toEqual(["a_app"]);
        expect(Object.keys(before.entries).every((k) => JSON.stringify(before.entries[k]) === JSON.stringify(after.entries[k]))).toBe(true);
        expect(after.entries.a_app).toEqual({ kind: "app role", connections: 5 });
    });
});

describe("budgetEntries", () => {
    it("reads this version's entries by name and an earlier up's list alike", () => {
        const r = report({ shop_app: 10 });
        expect(budgetEntries(keyedBudget(r))).toEqual(r.entries);
        expect(budgetEntries(r)).toEqual(r.entries);
        expect(budgetEntries(undefined)).toEqual([]);
        expect(previousConnections({ lab: keyedBudget(r) })).toEqual(previousConnections({ lab: r }));
    });
});

describe("keyedAccess", () => {
    it("keys roles by name and foreign objects by database:schema.name, and leaves a report not read as it is", () => {
        const keyed = keyedAccess({
            server: "lab",
            roles: [{ name: "shop_app", superuser: false, createRole: false, createDb: false, connectionLimit: 10 }],
            databases: ["shop"],
            canConnect: { shop_app: ["shop"] },
            publicConnect: [],
            foreignObjects: [
                { database: "shop", schema: "work", name: "scratch", kind: "table", owner: "shop_app", expectedOwner: "shop_migrate" },
            ],
        });
        expect(keyed).toMatchObject({
            roles: { shop_app: { connectionLimit: 10 } },
            foreignObjects: { "shop:work.scratch": { kind: "table", owner: "shop_app", expectedOwner: "shop_migrate" } },
        });
        const notRead = { server: "lab", notRead: "preflight is off" };
        expect(keyedAccess(notRead)).toBe(notRead);
    });
});
