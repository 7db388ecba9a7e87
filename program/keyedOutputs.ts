/**
 * The `budgets` and `access` stack outputs with their lists of roles keyed by
 * name: a list diffs by position, so one role added showed as a chain of
 * renames; keyed, the preview shows exactly the role added or removed.
 * Budgets of earlier `up`s (lists) are still read (`budgetEntries`).
 */
import * as pulumi from "@pulumi/pulumi";
import type { AccessReport, AccessReportNotRead, AccessRole, ForeignObject } from "../components/accessReport";
import type { BudgetEntry, BudgetReport } from "../components/connectionBudget";

/** A budget report as the stack output has it: entries by name. */
export interface BudgetOutput extends Omit<BudgetReport, "entries"> {
    readonly entries: Readonly<Record<string, Omit<BudgetEntry, "name">>>;
}

/** An access report as the stack output has it: roles by name, objects by `database:schema.name`. */
export interface AccessOutput extends Omit<AccessReport, "roles" | "foreignObjects"> {
    readonly roles: Readonly<Record<string, Omit<AccessRole, "name">>>;
    readonly foreignObjects: Readonly<Record<string, Omit<ForeignObject, "database" | "schema" | "name">>>;
}

const byName = <T extends { readonly name: string }>(items: readonly T[]): Record<string, Omit<T, "name">> =>
    Object.fromEntries(items.map(({ name, ...rest }) => [name, rest]));

export function keyedBudget(report: BudgetReport): BudgetOutput {
    return { ...report, entries: byName(report.entries) };
}

export function keyedAccess(report: AccessReport | AccessReportNotRead): AccessOutput | AccessReportNotRead {
    if (!("roles" in report)) return report;
    const foreignObjects = Object.fromEntries(
        report.foreignObjects.map(({ database, schema, name, ...rest }) => [`${database}:${schema}.${name}`, rest]),
    );
    return { ...report, roles: byName(report.roles), foreignObjects };
}

/** A budget's entries as a list, from this version's output (by name) or an earlier one's (a list). */
export function budgetEntries(report: { readonly entries?: unknown } | undefined): BudgetEntry[] {
    const entries = report?.entries;
    if (Array.isArray(entries)) return entries as BudgetEntry[];
    if (entries === null || typeof entries !== "object") return [];
    return Object.entries(entries as Record<string, Omit<BudgetEntry, "name">>).map(([name, e]) => ({ name, ...e }));
}

/** Every server's output, keyed. */
export function keyedOutputs(
    budgets: Readonly<Record<string, pulumi.Output<BudgetReport>>>,
    access: Readonly<Record<string, pulumi.Output<AccessReport | AccessReportNotRead>>>,
): { budgets: Record<string, pulumi.Output<BudgetOutput>>; access: Record<string, pulumi.Output<AccessOutput | AccessReportNotRead>> } {
    return {
        budgets: Object.fromEntries(Object.entries(budgets).map(([server, b]) => [server, b.apply(keyedBudget)])),
        access: Object.fromEntries(Object.entries(access).map(([server, a]) => [server, a.apply(keyedAccess)])),
    };
}
