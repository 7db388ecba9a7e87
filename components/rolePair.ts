/**
 * RolePair: the two login roles every application gets.
 *
 * `<app>_migrate` owns the database and runs DDL at deploy time; `<app>_app`
 * is what the application runs as, with timeouts that free stuck sessions.
 * Neither can create roles or databases, replicate or bypass row security.
 *
 * Zero-downtime rotation (opt-in): `<app>_app` keeps every privilege, and a
 * second login `<app>_app_alt`, a member of it, shares them. The rotation
 * counter picks the login handed out (even: `<app>_app`, odd:
 * `<app>_app_alt`); a bump gives the other login a new password and hands it
 * out, while the previous one keeps working until the next bump. Apps roll
 * over to the new URL at their own pace; nothing in use is cut off.
 */
import * as pulumi from "@pulumi/pulumi";
import { AdminConnection } from "./adminConnection";
import {
    checkInt,
    DEFAULT_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS,
    DEFAULT_IDLE_SESSION_TIMEOUT_MS,
    DEFAULT_MIGRATE_CONNECTION_LIMIT,
    DEFAULT_RUNTIME_CONNECTION_LIMIT,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    RANGES,
} from "./defaults";
import { identifierProblem, roleListFor, roleNamesFor, RoleNameOverrides } from "./identifiers";
import { declareLoginRoles, LoginRoleSpec, RoleTimeouts } from "./loginRole";
import { PriorResource, priorResources } from "./priorState";
import { RoleSettings } from "./roleSettings";

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
    /**
     * Bump `runtime` or `migrate` to give that role a new password; with
     * `zeroDowntime`, runtime rotation alternates between two logins.
     * @default 0 each, zeroDowntime false
     */
    readonly rotation?: { readonly runtime?: number; readonly migrate?: number; readonly zeroDowntime?: boolean };
    /** Refuse to delete the roles (production). @default false */
    readonly protect?: boolean;
    /** Other names for the roles (an existing owner role to take over). @default `<app>_migrate`, `<app>_app` */
    readonly roleNames?: RoleNameOverrides;
    /**
     * Roles of the pair that exist already, by name: taken over (AdoptedRole),
     * never created or dropped. `password` keeps the one the role has; without it
     * the role gets a generated one. @default none
     */
    readonly adoptRoles?: Readonly<Record<string, AdoptedRolePassword>>;
    /**
     * Set idle_session_timeout with a RoleSettings resource per runtime login,
     * `<name>-app-settings` (and `<name>-app-alt-settings`). AppDatabase passes
     * false and applies `sessionSettings` in its DatabaseAccess instead (one
     * dynamic resource per app). @default true
     */
    readonly applySessionSettings?: boolean;
    /**
     * The stack's resources at its last `up`: roles an earlier version made
     * with the postgresql provider's Role are taken over by their ManagedRoles
     * with the password they have (loginRole.ts). Pass `[]` when the stack is
     * known to hold none.
     * @default read from the backend, once per program run (priorState.ts)
     */
    readonly stateAtLastUp?: readonly PriorResource[] | Promise<readonly PriorResource[]>;
}

/** How an adopted role's password is handled: the supplied one is kept; none given means a new one. */
export interface AdoptedRolePassword {
    readonly password?: pulumi.Input<string>;
}

const COMPONENT = "RolePair";

/** Fills in RolePair defaults; throws naming the argument and the value when a name or number is unusable. */
export function resolveRolePairArgs(args: RolePairArgs): Required<
    Omit<RolePairArgs, "rotation" | "applySessionSettings" | "stateAtLastUp">
> & {
    rotation: { runtime: number; migrate: number; zeroDowntime: boolean };
} {
    const names = roleListFor(args.app, args.rotation?.zeroDowntime, args.roleNames);
    for (const role of names) {
        const problem = identifierProblem(role);
        if (problem) throw new Error(`RolePair: \`app\` gives role name ${role}: ${problem}`);
    }
    const adopted = Object.keys(args.adoptRoles ?? {});
    const alternate = args.rotation?.zeroDowntime ? names[2] : undefined;
    const stray = adopted.filter((r) => !names.includes(r) || r === alternate);
    if (stray.length > 0) {
        throw new Error(
            `RolePair: \`adoptRoles\` names ${stray.join(", ")}, which ${stray.length === 1 ? "is" : "are"} not among the pair's roles (${names.slice(0, 2).join(", ")})`,
        );
    }
    return {
        app: args.app,
        roleNames: args.roleNames ?? {},
        adoptRoles: args.adoptRoles ?? {},
        connection: args.connection,
        runtimeConnectionLimit: checkInt(
            COMPONENT,
            "runtimeConnectionLimit",
            args.runtimeConnectionLimit ?? DEFAULT_RUNTIME_CONNECTION_LIMIT,
            RANGES.connectionLimit,
        ),
        migrateConnectionLimit: checkInt(
            COMPONENT,
            "migrateConnectionLimit",
            args.migrateConnectionLimit ?? DEFAULT_MIGRATE_CONNECTION_LIMIT,
            RANGES.connectionLimit,
        ),
        statementTimeoutMs: checkInt(
            COMPONENT,
            "statementTimeoutMs",
            args.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
            RANGES.timeoutMs,
        ),
        idleInTransactionSessionTimeoutMs: checkInt(
            COMPONENT,
            "idleInTransactionSessionTimeoutMs",
            args.idleInTransactionSessionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS,
            RANGES.timeoutMs,
        ),
        idleSessionTimeoutMs: checkInt(
            COMPONENT,
            "idleSessionTimeoutMs",
            args.idleSessionTimeoutMs ?? DEFAULT_IDLE_SESSION_TIMEOUT_MS,
            RANGES.timeoutMs,
        ),
        rotation: {
            runtime: checkInt(COMPONENT, "rotation.runtime", args.rotation?.runtime ?? 0, RANGES.rotation),
            migrate: checkInt(COMPONENT, "rotation.migrate", args.rotation?.migrate ?? 0, RANGES.rotation),
            zeroDowntime: args.rotation?.zeroDowntime ?? false,
        },
        protect: args.protect ?? false,
    };
}

/**
 * The rotation keepers of the runtime logins and which one is handed out.
 * Without zeroDowntime: one login, renewed at every bump. With it: a bump to
 * an odd count renews `<app>_app_alt` and hands it out, to an even count
 * renews `<app>_app`; the other login keeps its password meanwhile. At an
 * even count `<app>_app` keeps the keeper it had without zeroDowntime, so
 * opting in then changes no password in use.
 */
export function runtimeSlots(rotation: number, zeroDowntime: boolean): { primary: number; alternate?: number; alternateActive: boolean } {
    if (!zeroDowntime) return { primary: rotation, alternateActive: false };
    const odd = rotation % 2 === 1;
    return {
        primary: odd ? rotation - 1 : rotation,
        alternate: odd ? rotation : Math.max(rotation - 1, 0),
        alternateActive: odd,
    };
}

/** A RolePair's arguments with every default filled in. */
export type ResolvedRolePairArgs = ReturnType<typeof resolveRolePairArgs>;

/** The `resourceName` of the pair's login roles, by slot: what earlier versions named the provider's Role of each (`<name>-migrate`, ...). */
export const PAIR_RESOURCE_SUFFIXES: Readonly<Record<string, string>> = { migrate: "migrate", runtime: "app", alternate: "app-alt" };

/**
 * The pair's login roles by slot (`migrate`, `runtime`, and `alternate` with
 * zeroDowntime), and which runtime login is handed out.
 */
export function pairLoginSpecs(
    name: string,
    a: ResolvedRolePairArgs,
): { specs: Record<string, LoginRoleSpec>; slots: ReturnType<typeof runtimeSlots> } {
    const names = roleNamesFor(a.app, a.roleNames);
    const adopt = (role: string) => {
        const found = a.adoptRoles[role];
        return found ? { password: found.password } : undefined;
    };
    const timeouts: RoleTimeouts = {
        statementTimeoutMs: a.statementTimeoutMs,
        idleInTransactionSessionTimeoutMs: a.idleInTransactionSessionTimeoutMs,
        idleSessionTimeoutMs: a.idleSessionTimeoutMs,
    };
    const slots = runtimeSlots(a.rotation.runtime, a.rotation.zeroDowntime);
    const runtimeSpec = (resourceName: string, roleName: string, rotation: number, memberOf?: string[]): LoginRoleSpec => ({
        resourceName,
        roleName,
        connectionLimit: a.runtimeConnectionLimit,
        rotation,
        memberOf,
        timeouts,
        adopt: adopt(roleName),
    });
    const specs: Record<string, LoginRoleSpec> = {
        migrate: {
            resourceName: `${name}-${PAIR_RESOURCE_SUFFIXES.migrate}`,
            roleName: names.migrate,
            connectionLimit: a.migrateConnectionLimit,
            rotation: a.rotation.migrate,
            adopt: adopt(names.migrate),
        },
        runtime: runtimeSpec(`${name}-${PAIR_RESOURCE_SUFFIXES.runtime}`, names.runtime, slots.primary),
        // A member of <app>_app, made after it in the same resource (or after the adopted one, which exists).
        ...(slots.alternate === undefined
            ? {}
            : {
                  alternate: runtimeSpec(`${name}-${PAIR_RESOURCE_SUFFIXES.alternate}`, names.alternateRuntime, slots.alternate, [
                      names.runtime,
                  ]),
              }),
    };
    return { specs, slots };
}

export class RolePair extends pulumi.ComponentResource {
    /** The resources that make or adopt the pair's roles: what needs the roles to exist depends on them. */
    public readonly roleResources: pulumi.CustomResource[];
    public readonly migrateUser: pulumi.Output<string>;
    /** `<app>_app`: the application's runtime role, which holds its privileges (`<app>_app_alt` has them by membership). */
    public readonly runtimeRoleName: pulumi.Output<string>;
    /** The runtime login to hand out: `<app>_app`, or `<app>_app_alt` at an odd rotation with zeroDowntime. */
    public readonly runtimeUser: pulumi.Output<string>;
    /** Secret. */
    public readonly migratePassword: pulumi.Output<string>;
    /** Secret: the password of runtimeUser. */
    public readonly runtimePassword: pulumi.Output<string>;
    /** Settings the provider cannot set, per role (empty for a role without timeouts). */
    public readonly sessionSettings: { role: pulumi.Output<string>; settings: Readonly<Record<string, string>> }[];

    constructor(name: string, args: RolePairArgs, opts: pulumi.ComponentResourceOptions = {}) {
        const a = resolveRolePairArgs(args); // bad input fails before anything is registered
        super(ROLE_PAIR_TYPE, name, {}, opts);
        const { specs, slots } = pairLoginSpecs(name, a);
        // `-role-pair` has a hyphen, which no role name has: no extra role's resource can take its name.
        const logins = declareLoginRoles(this, `${name}-role-pair`, specs, {
            connection: a.connection,
            protect: a.protect,
            stateAtLastUp: args.stateAtLastUp ?? priorResources(),
        });
        const { migrate, runtime, alternate } = logins;
        const active = slots.alternateActive && alternate ? alternate : runtime;
        const runtimeLogins = [
            { resourceName: `${name}-app`, login: runtime },
            ...(alternate ? [{ resourceName: `${name}-app-alt`, login: alternate }] : []),
        ];
        if (args.applySessionSettings !== false) {
            for (const { resourceName, login } of runtimeLogins) {
                new RoleSettings(
                    `${resourceName}-settings`,
                    { connection: a.connection, role: login.name, settings: login.settings },
                    { parent: this },
                );
            }
        }

        this.roleResources = [...new Set(Object.values(logins).map((l) => l.resource))];
        this.migrateUser = migrate.name;
        this.runtimeRoleName = runtime.name;
        this.runtimeUser = active.name;
        this.migratePassword = pulumi.secret(migrate.password);
        this.runtimePassword = pulumi.secret(active.password);
        this.sessionSettings = runtimeLogins.map(({ login }) => ({ role: login.name, settings: login.settings }));
        // The passwords stay properties only, as AppDatabase's URLs do.
        this.registerOutputs({ migrateUser: this.migrateUser, runtimeUser: this.runtimeUser });
    }
}
