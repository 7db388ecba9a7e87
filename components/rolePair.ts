/**
 * RolePair: the two login roles every application gets.
 *
 * `<app>_migrate` owns the database and runs DDL at deploy time; `<app>_app`
 * is what the application runs as, with timeouts that free stuck sessions.
 * Neither can create roles or databases, replicate or bypass row security.
 */
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import { AdminConnection } from "./adminConnection";
import {
    DEFAULT_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS,
    DEFAULT_IDLE_SESSION_TIMEOUT_MS,
    DEFAULT_MIGRATE_CONNECTION_LIMIT,
    DEFAULT_RUNTIME_CONNECTION_LIMIT,
    DEFAULT_STATEMENT_TIMEOUT_MS,
} from "./config";
import { identifierProblem, roleListFor, roleNamesFor } from "./identifiers";
import { declareLoginRole, RoleTimeouts } from "./loginRole";

export const ROLE_PAIR_TYPE = "app-databases:index:RolePair";

export interface RolePairArgs {
    /** The application's name; the roles are `<app>_migrate` and `<app>_app`. */
    readonly app: string;
    /** Admin connection, used for the settings the provider cannot manage. */
    readonly connection: pulumi.Input<AdminConnection>;
    /** CONNECTION LIMIT of `<app>_app`. @default 10 */
    readonly runtimeConnectionLimit?: number;
    /** CONNECTION LIMIT of `<app>_migrate`. @default 2 */
    readonly migrateConnectionLimit?: number;
    /** statement_timeout of `<app>_app`, ms. @default 30000 */
    readonly statementTimeoutMs?: number;
    /** idle_in_transaction_session_timeout of `<app>_app`, ms. @default 60000 */
    readonly idleInTransactionSessionTimeoutMs?: number;
    /** idle_session_timeout of `<app>_app`, ms. @default 600000 */
    readonly idleSessionTimeoutMs?: number;
    /** Bump `runtime` or `migrate` to give that role a new password. @default 0 each */
    readonly rotation?: { readonly runtime?: number; readonly migrate?: number };
    /** Refuse to delete the roles (production). @default false */
    readonly protect?: boolean;
    /**
     * Set idle_session_timeout with a RoleSettings resource of the pair's own.
     * AppDatabase passes false and applies `sessionSettings` in its
     * DatabaseAccess instead (one dynamic resource per app). @default true
     */
    readonly applySessionSettings?: boolean;
}

/** Fills in RolePair defaults; throws naming the argument when a name is unusable. */
export function resolveRolePairArgs(args: RolePairArgs): Required<Omit<RolePairArgs, "rotation" | "applySessionSettings">> & {
    rotation: { runtime: number; migrate: number };
} {
    for (const role of roleListFor(args.app)) {
        const problem = identifierProblem(role);
        if (problem) throw new Error(`RolePair: \`app\` gives role name ${role}: ${problem}`);
    }
    return {
        app: args.app,
        connection: args.connection,
        runtimeConnectionLimit: args.runtimeConnectionLimit ?? DEFAULT_RUNTIME_CONNECTION_LIMIT,
        migrateConnectionLimit: args.migrateConnectionLimit ?? DEFAULT_MIGRATE_CONNECTION_LIMIT,
        statementTimeoutMs: args.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
        idleInTransactionSessionTimeoutMs: args.idleInTransactionSessionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS,
        idleSessionTimeoutMs: args.idleSessionTimeoutMs ?? DEFAULT_IDLE_SESSION_TIMEOUT_MS,
        rotation: { runtime: args.rotation?.runtime ?? 0, migrate: args.rotation?.migrate ?? 0 },
        protect: args.protect ?? false,
    };
}

export class RolePair extends pulumi.ComponentResource {
    /** `<app>_migrate`: owns the database, runs DDL. */
    public readonly migrateRole: postgresql.Role;
    /** `<app>_app`: the application's runtime role. */
    public readonly runtimeRole: postgresql.Role;
    public readonly migrateUser: pulumi.Output<string>;
    public readonly runtimeUser: pulumi.Output<string>;
    /** Secret. */
    public readonly migratePassword: pulumi.Output<string>;
    /** Secret. */
    public readonly runtimePassword: pulumi.Output<string>;
    /** Settings the provider cannot set, per role (empty for a role without timeouts). */
    public readonly sessionSettings: { role: pulumi.Output<string>; settings: Readonly<Record<string, string>> }[];

    constructor(name: string, args: RolePairArgs, opts: pulumi.ComponentResourceOptions = {}) {
        const a = resolveRolePairArgs(args); // bad input fails before anything is registered
        super(ROLE_PAIR_TYPE, name, {}, opts);
        const names = roleNamesFor(a.app);
        const timeouts: RoleTimeouts = {
            statementTimeoutMs: a.statementTimeoutMs,
            idleInTransactionSessionTimeoutMs: a.idleInTransactionSessionTimeoutMs,
            idleSessionTimeoutMs: a.idleSessionTimeoutMs,
        };

        const migrate = declareLoginRole(this, `${name}-migrate`, {
            roleName: names.migrate,
            connectionLimit: a.migrateConnectionLimit,
            rotation: a.rotation.migrate,
            connection: a.connection,
            protect: a.protect,
        });
        const runtime = declareLoginRole(this, `${name}-app`, {
            roleName: names.runtime,
            connectionLimit: a.runtimeConnectionLimit,
            rotation: a.rotation.runtime,
            timeouts,
            connection: a.connection,
            protect: a.protect,
            applySettings: args.applySessionSettings,
        });

        this.migrateRole = migrate.role;
        this.runtimeRole = runtime.role;
        this.migrateUser = migrate.role.name;
        this.runtimeUser = runtime.role.name;
        this.migratePassword = pulumi.secret(migrate.password.result);
        this.runtimePassword = pulumi.secret(runtime.password.result);
        this.sessionSettings = [{ role: runtime.role.name, settings: runtime.settings }];
        this.registerOutputs({
            migrateUser: this.migrateUser,
            runtimeUser: this.runtimeUser,
            migratePassword: this.migratePassword,
            runtimePassword: this.runtimePassword,
        });
    }
}
