/**
 * The budget of each server as it really is: the config's budget arguments,
 * the server's own login roles (preflight), and what the budget said at the
 * last `up` (for the change marks of the over-budget table).
 */
import { StackConfig } from "./config";
import { BudgetReport, ConnectionBudgetArgs } from "../components/connectionBudget";
import { applyLiveRoles, LiveRole } from "./liveRoles";
import { budgetArgs } from "./stack";
import { roleListFor } from "../components/identifiers";
import { budgetEntries } from "./keyedOutputs";

/** Each server's budget report at the last `up`, by server: entries by name, or a list (earlier versions). */
export type PreviousBudgets = Readonly<Record<string, Pick<BudgetReport, "server"> & { readonly entries?: unknown }>>;

/** Per server, each entry's connections at the last `up`: what the table marks changes against. */
export function previousConnections(previous: PreviousBudgets | undefined): Record<string, Record<string, number>> {
    return Object.fromEntries(
        Object.entries(previous ?? {}).map(([server, report]) => [
            server,
            Object.fromEntries(budgetEntries(report).map((e) => [e.name, e.connections])),
        ]),
    );
}

export interface LiveBudgets {
    readonly args: ConnectionBudgetArgs[];
    /** A declared role missing on its server: the preflight fails on these. */
    readonly configProblems: string[];
    readonly warnings: string[];
}

/**
 * Budget arguments of every server with its live roles. Roles this stack
 * managed at the last `up` and no longer names are being dropped by this one
 * (unless the stack protects them: then they stay on the server, unmanaged).
 */
export function budgetsWithLiveRoles(
    config: StackConfig,
    liveRoles: Readonly<Record<string, readonly LiveRole[]>>,
    previous?: PreviousBudgets,
    /** `<project>/<stack>` of this stack (roleBudgetLock.ts). */
    stack?: string,
): LiveBudgets {
    const configProblems: string[] = [];
    const warnings: string[] = [];
    const retired = retiredRoles(config.retiredApps);
    const args = budgetArgs(config).map((a) => {
        const server = config.servers[a.server];
        const roles = liveRoles[a.server];
        if (!server || !roles) return a; // a dedicated container, or not read
        const leaving = config.protect
            ? []
            : budgetEntries(previous?.[a.server])
                  .filter((e) => e.kind === "app role")
                  .map((e) => e.name);
        // The apps' roles and the backup role (budgetArgs).
        const managed = new Set([...Object.keys(a.roles), ...leaving]);
        const live = applyLiveRoles(a, server, roles, managed, stack, retired);
        configProblems.push(...live.configProblems);
        warnings.push(...live.warnings);
        return live.args;
    });
    return { args, configProblems, warnings };
}

/**
 * The login roles a retired app left on its server, by role: the names its
 * config derived (`<app>_migrate`, `<app>_app`, `<app>_app_alt`). Renamed
 * roles and extra roles of a retired app are not known here any more.
 */
export function retiredRoles(retiredApps: readonly string[]): Map<string, string> {
    return new Map(retiredApps.flatMap((app) => roleListFor(app, true, {}).map((role) => [role, app] as const)));
}

/** The budgets output of the last `up` (lastUp.ts), if it had one. */
export function previousBudgetsIn(outputs: Readonly<Record<string, unknown>> | undefined): PreviousBudgets | undefined {
    const budgets = outputs?.budgets;
    return budgets && typeof budgets === "object" ? (budgets as PreviousBudgets) : undefined;
}
