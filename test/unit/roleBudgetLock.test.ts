import { describe, expect, it } from "vitest";
import { lockedBudget, LockedRole, markedStack, RoleBudget, stackRoleMarker } from "../../components/roleBudgetLock";

const budget: RoleBudget = { server: "lab", maxConnections: 100, fixed: 11, externalRoles: { grafana: 5 }, stackTotal: 60, stack: "p/a" };
const role = (name: string, connectionLimit: number, comment: string | null = null, more: Partial<LockedRole> = {}): LockedRole => ({
    name,
    login: true,
    superuser: false,
    connectionLimit,
    comment,
    ...more,
});

describe("the stack's mark on its roles", () => {
    it("names the stack and is read back", () => {
        expect(stackRoleMarker("p/a", "shop")).toBe("app-databases stack p/a: login role of database shop");
        expect(markedStack(stackRoleMarker("p/a", "shop"))).toBe("p/a");
        expect(markedStack("app-databases: login role of database shop")).toBeUndefined();
        expect(markedStack(null)).toBeUndefined();
    });
});

describe("the budget under the lock", () => {
    it("reserves what the stack's plan has not made yet, so a second stack is refused as a whole", () => {
        // Nothing on the server yet: the first resource of stack a counts its whole plan.
        expect(
            lockedBudget(budget, [role("postgres", -1, null, { superuser: true })], { a1_app: 28, a1_migrate: 2 }, [], "postgres"),
        ).toEqual({
            total: 11 + 5 + 60,
            fits: true,
            foreign: [],
        });
        // Stack b's first resource after one of a's: a's live 30, b's plan 60.
        const live = [
            role("a1_app", 28, stackRoleMarker("p/a", "a1")),
            role("a1_migrate", 2, stackRoleMarker("p/a", "a1")),
            role("metabase", 3),
        ];
        const result = lockedBudget({ ...budget, stack: "p/b" }, live, { b1_app: 28, b1_migrate: 2 }, [], "postgres");
        expect(result.total).toBe(11 + 5 + 30 + 3 + 60);
        expect(result.fits).toBe(false);
        expect(result.foreign).toEqual([
            { name: "a1_app", connections: 28, stack: "p/a" },
            { name: "metabase", connections: 3 },
            { name: "a1_migrate", connections: 2, stack: "p/a" },
        ]);
    });

    it("counts this stack's made roles at their new limits, an external role at the larger figure, and skips renamed ones", () => {
        const live = [
            role("a1_app", 20, stackRoleMarker("p/a", "a1")),
            role("old_name", 9, stackRoleMarker("p/a", "a2")),
            role("grafana", 8),
            role("nologin", 50, null, { login: false }),
        ];
        const result = lockedBudget(budget, live, { a1_app: 28, a2_app: 9 }, ["old_name"], "postgres");
        // 11 fixed + grafana 8 + a1_app 28 + a2_app 9, and 60 - 37 of the plan still to make
        expect(result).toEqual({ total: 11 + 8 + 37 + 23, fits: true, foreign: [] });
    });
});
