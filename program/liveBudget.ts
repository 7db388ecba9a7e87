/**
 * The budget of each server as it really is: the config's budget arguments,
 * the server's own login roles (preflight), and what the budget said at the
 * last `up` (for the change marks of the over-budget table).
 */
import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "./config";
import { BudgetReport, ConnectionBudgetArgs } from "../components/connectionBudget";
import { applyLiveRoles, LiveRole } from "./liveRoles";
import { budgetArgs, managedRoleLimits } from "./stack";

/** Each server's budget report at the last `up`, by server. */
export type PreviousBudgets = Readonly<Record<string, BudgetReport>>;

/** Per server, each entry's connections at the last `up`: what the table marks changes against. */
export function previousConnections(previous: PreviousBudgets | undefined): Record<string, Record<string, number>> {
    return Object.fromEntries(
        Object.entries(previous ?? {}).map(([server, report]) => [
            server,
            Object.fromEntries((report.entries ?? []).map((e) => [e.name, e.connections])),
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
): LiveBudgets {
    const configProblems: string[] = [];
    const warnings: string[] = [];
    const args = budgetArgs(config).map((a) => {
        const server = config.servers[a.server];
        const roles = liveRoles[a.server];
        if (!server || !roles) return a; // a dedicated container, or not read
        const leaving = config.protect ? [] : (previous?.[a.server]?.entries ?? []).filter((e) => e.kind === "app role").map((e) => e.name);
        const managed = new Set([
            ...Object.keys(managedRoleLimits(Object.values(config.apps).filter((app) => app.server === a.server))),
            ...leaving,
        ]);
        const live = applyLiveRoles(a, server, roles, managed);
        configProblems.push(...live.configProblems);
        warnings.push(...live.warnings);
        return live.args;
    });
    return { args, configProblems, warnings };
}

/**
 * The stack's own outputs at its last `up`, read with the engine's built-in
 * `readStackOutputs` invoke (what a StackReference reads, without adding a
 * resource that every preview would show as a read); undefined on a stack
 * that never ran an `up`, or when the backend cannot say.
 */
export async function readPreviousBudgets(): Promise<PreviousBudgets | undefined> {
    try {
        const name = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
        const result = (await pulumi.runtime.invoke("pulumi:pulumi:readStackOutputs", { name })) as { outputs?: Record<string, unknown> };
        const budgets = result?.outputs?.budgets;
        return budgets && typeof budgets === "object" ? (budgets as PreviousBudgets) : undefined;
    } catch {
        return undefined;
    }
}
