/**
 * ConnectionBudget for other Pulumi languages: the library's budget check on
 * plain data, with its verdict as outputs. Over budget, construction fails with
 * the same table as in TypeScript, before anything is applied.
 */
import * as pulumi from "@pulumi/pulumi";
import * as lib from "../components/connectionBudget";

/**
 * The library's args without what only TypeScript callers pass (live server
 * roles, notes, problems), declared field by field for the schema analyzer.
 */
export interface ConnectionBudgetArgs {
    /** Name of the server, used in the report. */
    readonly server: string;
    /** max_connections of the server. @default sized from the budget */
    readonly maxConnections?: number;
    /** CONNECTION LIMIT of every role on the server, by role name. */
    readonly roles: Record<string, number>;
    /** Roles this program does not manage, with the connections they may take. @default {} */
    readonly externalRoles?: Record<string, number>;
    /** The provisioning tool's own pool while it runs. */
    readonly provisioningConnections: number;
    /** superuser_reserved_connections of the server. */
    readonly superuserReservedConnections: number;
    /** Slots kept free for an administrator's psql, backups, monitoring. */
    readonly adminHeadroom: number;
}

export class ConnectionBudget extends pulumi.ComponentResource {
    /** max_connections the server has or, when sized from the budget, needs. */
    public readonly maxConnections: pulumi.Output<number>;
    /** Connections the budget adds up to. */
    public readonly total: pulumi.Output<number>;
    /** max_connections left over. */
    public readonly free: pulumi.Output<number>;
    /** The budget as a table naming every entry and its share. */
    public readonly table: pulumi.Output<string>;

    constructor(name: string, args: ConnectionBudgetArgs, opts: pulumi.ComponentResourceOptions = {}) {
        const report = lib.computeBudget(lib.resolveConnectionBudgetArgs(args));
        if (!report.fits) throw new lib.BudgetError([report]);
        super(lib.CONNECTION_BUDGET_TYPE, name, {}, opts);
        this.maxConnections = pulumi.output(report.maxConnections);
        this.total = pulumi.output(report.total);
        this.free = pulumi.output(report.free);
        this.table = pulumi.output(lib.formatBudget(report));
        this.registerOutputs({ maxConnections: this.maxConnections, total: this.total, free: this.free, table: this.table });
    }
}
