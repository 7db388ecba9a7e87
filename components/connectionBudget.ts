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
export type BudgetEntryKind =
    | "app role"
    | "external role"
    | "unmanaged on server"
    | "another stack"
    | "superuser on server"
    | "provisioning"
    | "superuser reserved"
    | "admin headroom"
    | "pooler";

export interface BudgetEntry {
    readonly name: string;
    readonly kind: BudgetEntryKind;
    readonly connections: number;
    /** The role has no CONNECTION LIMIT on the server: `connections` is no bound at all. */
    readonly unbounded?: boolean;
    /** What the server said about this entry, when it differs from the config. */
    readonly note?: string;
    /** `<project>/<stack>` of the stack that manages it ("another stack"). */
    readonly stack?: string;
    /** false: shown, not added to the total (a pooler's connections, inside a role's share). @default true */
    readonly counted?: boolean;
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
    /** Login roles found on the server that the config does not name (liveRoles.ts). @default [] */
    readonly serverRoles?: readonly BudgetEntry[];
    /** Notes per entry name, e.g. a server limit larger than the config's. @default {} */
    readonly notes?: Readonly<Record<string, string>>;
    /** Problems that fail the budget whatever the sum (an unbounded login role). @default [] */
    readonly problems?: readonly string[];
    /**
     * Per runtime role behind a pooler, the server connections the pooler may open
     * as it (instances × pool): shown, and checked against the role's limit, which
     * the total counts already. @default {}
     */
    readonly pooled?: Readonly<Record<string, { readonly connections: number; readonly detail: string }>>;
}

/** The budget of one server: its entries, total and verdict. */
export interface BudgetReport {
    readonly server: string;
    readonly maxConnections: number;
    readonly total: number;
    readonly free: number;
    readonly fits: boolean;
    readonly entries: readonly BudgetEntry[];
    /** Why the budget fails besides its sum; empty when none. */
    readonly problems: readonly string[];
}

/** Adds up a server's budget. Pure: the same inputs give the same report. */
export function computeBudget(args: ConnectionBudgetArgs): BudgetReport {
    const notes = args.notes ?? {};
    const listed: BudgetEntry[] = [
        ...Object.entries(args.roles).map(([name, connections]) => ({ name, kind: "app role" as const, connections })),
        ...Object.entries(args.externalRoles ?? {}).map(([name, connections]) => ({
            name,
            kind: "external role" as const,
            connections,
        })),
        ...(args.serverRoles ?? []),
        { name: "(provisioning tool)", kind: "provisioning", connections: args.provisioningConnections },
        { name: "(superuser_reserved_connections)", kind: "superuser reserved", connections: args.superuserReservedConnections },
        { name: "(admin headroom)", kind: "admin headroom", connections: args.adminHeadroom },
        ...Object.entries(args.pooled ?? {}).map(([role, p]) => ({
            name: `(pooler) ${role}`,
            kind: "pooler" as const,
            connections: p.connections,
            counted: false,
            note: `${p.detail}, within ${role}'s ${args.roles[role] ?? "?"}`,
        })),
    ];
    const entries = listed.map((e) => (notes[e.name] && !e.note ? { ...e, note: notes[e.name] } : e));
    const total = entries.reduce((sum, e) => sum + (e.counted === false ? 0 : e.connections), 0);
    const maxConnections = args.maxConnections ?? total;
    const problems = [...(args.problems ?? [])];
    for (const [role, p] of Object.entries(args.pooled ?? {})) {
        const limit = args.roles[role];
        if (limit === undefined || p.connections > limit)
            problems.push(
                `the pooler opens up to ${p.connections} connections as ${role}, over its CONNECTION LIMIT ${limit ?? "(none: not a role of this stack)"}`,
            );
    }
    const fits = total <= maxConnections && problems.length === 0;
    return { server: args.server, maxConnections, total, free: maxConnections - total, fits, entries, problems };
}

/**
 * The report as a fixed-width table naming every entry and its share. With
 * `previous` (each entry's connections at the last `up`), rows that changed
 * since are marked `~` (`+` when new) and the three largest role shares `^`;
 * the last line says what to do.
 */
export function formatBudget(report: BudgetReport, previous?: Readonly<Record<string, number>>): string {
    const marks = budgetMarks(report, previous);
    const width = Math.max(4, ...report.entries.map((e) => e.name.length));
    const line = (mark: string, name: string, kind: string, n: number | string, share: string, note = "") =>
        `${mark.padEnd(2)} ${name.padEnd(width)}  ${kind.padEnd(19)}  ${String(n).padStart(5)}  ${share.padStart(6)}${note ? `  ${note}` : ""}`.trimEnd();
    const pct = (n: number) => `${((100 * n) / report.maxConnections).toFixed(1)}%`;
    const over = report.total > report.maxConnections;
    return [
        `Connection budget for server ${report.server}: ${report.total} of max_connections ${report.maxConnections}` +
            (over ? ` (OVER BUDGET by ${-report.free})` : ` (${report.free} free)`),
        line("", "role", "kind", "conns", "share"),
        ...report.entries.map((e) =>
            line(
                marks.get(e.name) ?? "",
                e.name,
                e.kind,
                e.unbounded ? "none" : e.counted === false ? `(${e.connections})` : e.connections,
                e.unbounded ? "?" : e.counted === false ? "—" : pct(e.connections),
                e.note,
            ),
        ),
        line("", "total", "", report.total, pct(report.total)),
        ...report.problems.map((p) => `  ! ${p}`),
        ...(marks.size > 0 ? [`  (~ changed since the last up, + new since the last up, ^ one of the largest shares)`] : []),
        budgetAdvice(report, previous),
    ].join("\n");
}

/** Roles whose share is theirs to lower: what the table marks and the advice names. */
const ROLE_KINDS: readonly BudgetEntryKind[] = ["app role", "external role", "unmanaged on server"];

/** `~`/`+` for rows changed since the last up, `^` for the three largest role shares. */
export function budgetMarks(report: BudgetReport, previous?: Readonly<Record<string, number>>): Map<string, string> {
    const marks = new Map<string, string>();
    if (previous) {
        for (const e of report.entries) {
            if (!(e.name in previous)) marks.set(e.name, "+");
            else if (previous[e.name] !== e.connections) marks.set(e.name, "~");
        }
    }
    for (const e of largestShares(report)) marks.set(e.name, (marks.get(e.name) ?? "") + "^");
    return marks;
}

function largestShares(report: BudgetReport, count = 3, kinds: readonly BudgetEntryKind[] = ROLE_KINDS): BudgetEntry[] {
    return report.entries
        .filter((e) => kinds.includes(e.kind) && e.connections > 0)
        .sort((a, b) => b.connections - a.connections || a.name.localeCompare(b.name))
        .slice(0, count);
}

/** The table's last line: what to do, naming the rows that changed or weigh most. */
export function budgetAdvice(report: BudgetReport, previous?: Readonly<Record<string, number>>): string {
    const over = report.total - report.maxConnections;
    if (over <= 0) {
        if (report.problems.length > 0)
            return `What to do: fix the ${report.problems.length === 1 ? "problem" : "problems"} marked ! above; nothing was applied.`;
        return `Fits: ${report.free} of ${report.maxConnections} connections free.`;
    }
    const raised = report.entries.filter(
        (e) => ROLE_KINDS.includes(e.kind) && previous && e.name in previous && e.connections > previous[e.name],
    );
    const added = report.entries.filter((e) => ROLE_KINDS.includes(e.kind) && previous && !(e.name in previous));
    const culprits = [
        ...raised.map((e) => `${e.name} (${previous![e.name]} -> ${e.connections} since the last up)`),
        ...added.map((e) => `${e.name} (new, ${e.connections})`),
    ];
    // Another stack's roles are lowered in that stack: this one is told of its own only.
    const foreign = report.entries.filter((e) => e.kind === "another stack" && e.connections > 0);
    const own = foreign.length > 0 ? largestShares(report, 3, ["app role"]) : largestShares(report);
    const suspects = culprits.length > 0 ? culprits : own.map((e) => `${e.name} (${e.connections})`);
    return (
        `What to do: free ${over} connection${over === 1 ? "" : "s"} by lowering ` +
        (foreign.length > 0 ? "this stack's own " : "") +
        `${suspects.join(", ")}, ` +
        `or raise max_connections of ${report.server} to at least ${report.total}` +
        (foreign.length > 0 ? `; ${foreignRoles(foreign)}` : "") +
        (report.problems.length > 0 ? ", and fix what is marked ! above" : "") +
        "; nothing was applied."
    );
}

/** "a_app (58), a_migrate (2) belong to stack p/a": per stack, the roles of other stacks the server holds. */
function foreignRoles(entries: readonly BudgetEntry[]): string {
    const byStack = new Map<string, string[]>();
    for (const e of entries) byStack.set(e.stack ?? "?", [...(byStack.get(e.stack ?? "?") ?? []), `${e.name} (${e.connections})`]);
    const parts = [...byStack].map(([stack, roles]) => `${roles.join(", ")} belong to stack ${stack}`);
    return `${parts.join("; ")}: lower those in that stack, not here`;
}

/** Thrown when a server's budget does not fit; the message carries the table. */
export class BudgetError extends Error {
    constructor(
        readonly reports: readonly BudgetReport[],
        /** Per server, each entry's connections at the last `up`, for the change marks. */
        previous: Readonly<Record<string, Readonly<Record<string, number>>>> = {},
    ) {
        super(reports.map((r) => formatBudget(r, previous[r.server])).join("\n\n"));
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
