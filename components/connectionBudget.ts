/**
 * ConnectionBudget: every connection a server may be asked for, against its
 * max_connections.
 *
 * PostgreSQL refuses the (max_connections - superuser_reserved_connections)th
 * ordinary session with "sorry, too many clients already". The per-role
 * CONNECTION LIMITs only help if their sum, plus the roles this program does
 * not manage, plus the provisioning tool's own pool, plus the reserved and
 * admin slots, fits under max_connections. This is checked before anything is
 * declared, so an over-budget plan fails the preview.
 */
import * as pulumi from "@pulumi/pulumi";
import { checkInt, checkText, RANGES } from "./defaults";

export const CONNECTION_BUDGET_TYPE = "app-databases:index:ConnectionBudget";

/** Who takes a share of the server's connections. */
export type BudgetEntryKind = "app role" | "external role" | "provisioning" | "superuser reserved" | "admin headroom";

export interface BudgetEntry {
    readonly name: string;
    readonly kind: BudgetEntryKind;
    readonly connections: number;
}

export interface ConnectionBudgetArgs {
    /** Name of the server, used in the report. */
    readonly server: string;
    /**
     * max_connections of the server. Leave it out to size it from the budget
     * (for a server this program runs itself).
     */
    readonly maxConnections?: number;
    /** CONNECTION LIMIT of every role this program manages on the server. */
    readonly roles: Readonly<Record<string, number>>;
    /** Roles this program does not manage, with the connections they may take. */
    readonly externalRoles?: Readonly<Record<string, number>>;
    /** The provisioning tool's own pool while it runs. */
    readonly provisioningConnections: number;
    /** superuser_reserved_connections of the server. */
    readonly superuserReservedConnections: number;
    /** Slots kept free for an administrator's psql, backups, monitoring. */
    readonly adminHeadroom: number;
}

/** The budget of one server: its entries, total and verdict. */
export interface BudgetReport {
    readonly server: string;
    readonly maxConnections: number;
    readonly total: number;
    readonly free: number;
    readonly fits: boolean;
    readonly entries: readonly BudgetEntry[];
}

/** Adds up a server's budget. Pure: the same inputs give the same report. */
export function computeBudget(args: ConnectionBudgetArgs): BudgetReport {
    const entries: BudgetEntry[] = [
        ...Object.entries(args.roles).map(([name, connections]) => ({ name, kind: "app role" as const, connections })),
        ...Object.entries(args.externalRoles ?? {}).map(([name, connections]) => ({
            name,
            kind: "external role" as const,
            connections,
        })),
        { name: "(provisioning tool)", kind: "provisioning", connections: args.provisioningConnections },
        { name: "(superuser_reserved_connections)", kind: "superuser reserved", connections: args.superuserReservedConnections },
        { name: "(admin headroom)", kind: "admin headroom", connections: args.adminHeadroom },
    ];
    const total = entries.reduce((sum, e) => sum + e.connections, 0);
    const maxConnections = args.maxConnections ?? total;
    return { server: args.server, maxConnections, total, free: maxConnections - total, fits: total <= maxConnections, entries };
}

/** The report as a fixed-width table naming every entry and its share. */
export function formatBudget(report: BudgetReport): string {
    const width = Math.max(4, ...report.entries.map((e) => e.name.length));
    const line = (name: string, kind: string, n: number | string, share: string) =>
        `  ${name.padEnd(width)}  ${kind.padEnd(18)}  ${String(n).padStart(5)}  ${share.padStart(6)}`;
    const pct = (n: number) => `${((100 * n) / report.maxConnections).toFixed(1)}%`;
    return [
        `Connection budget for server ${report.server}: ${report.total} of max_connections ${report.maxConnections}` +
            (report.fits ? ` (${report.free} free)` : ` (OVER BUDGET by ${-report.free})`),
        line("role", "kind", "conns", "share"),
        ...report.entries.map((e) => line(e.name, e.kind, e.connections, pct(e.connections))),
        line("total", "", report.total, pct(report.total)),
    ].join("\n");
}

/** Thrown when a server's budget does not fit; the message carries the table. */
export class BudgetError extends Error {
    constructor(readonly reports: readonly BudgetReport[]) {
        super(
            reports
                .map(
                    (r) =>
                        formatBudget(r) +
                        `\n  Lower the CONNECTION LIMITs above, or raise max_connections of ${r.server}; nothing was applied.`,
                )
                .join("\n\n"),
        );
        this.name = "BudgetError";
    }
}

const COMPONENT = "ConnectionBudget";

/** Checks ConnectionBudget args (every count a whole number in range); throws naming the argument and the value. */
export function resolveConnectionBudgetArgs(args: ConnectionBudgetArgs): ConnectionBudgetArgs {
    checkText(COMPONENT, "server", args.server, "the server's name");
    if (args.maxConnections !== undefined) checkInt(COMPONENT, "maxConnections", args.maxConnections, RANGES.maxConnections);
    for (const [role, limit] of Object.entries(args.roles)) checkInt(COMPONENT, `roles.${role}`, limit, RANGES.connectionLimit);
    for (const [role, n] of Object.entries(args.externalRoles ?? {}))
        checkInt(COMPONENT, `externalRoles.${role}`, n, RANGES.externalConnections);
    checkInt(COMPONENT, "provisioningConnections", args.provisioningConnections, RANGES.externalConnections);
    checkInt(COMPONENT, "superuserReservedConnections", args.superuserReservedConnections, RANGES.superuserReservedConnections);
    checkInt(COMPONENT, "adminHeadroom", args.adminHeadroom, RANGES.adminHeadroom);
    return args;
}

/**
 * A server's connection budget as a resource in the stack, with its report as
 * an output. Construction fails with a BudgetError when the budget does not fit.
 */
export class ConnectionBudget extends pulumi.ComponentResource {
    /** The report (entries, total, verdict) for stack outputs. */
    public readonly report: pulumi.Output<BudgetReport>;
    /** max_connections the server has or, when sized from the budget, needs. */
    public readonly maxConnections: number;
    /** The report as a table, as printed on failure. */
    public readonly table: string;

    constructor(name: string, args: ConnectionBudgetArgs, opts: pulumi.ComponentResourceOptions = {}) {
        const report = computeBudget(resolveConnectionBudgetArgs(args));
        if (!report.fits) throw new BudgetError([report]);
        super(CONNECTION_BUDGET_TYPE, name, {}, opts);
        this.maxConnections = report.maxConnections;
        this.table = formatBudget(report);
        this.report = pulumi.output(report);
        this.registerOutputs({ report: this.report });
    }
}
