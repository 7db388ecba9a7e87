/**
 * One more login role on an app's database, and how its defaults are filled
 * in: what AppDatabase makes of each entry of `extraRoles`.
 */
import {
    checkInt,
    checkOneOf,
    DEFAULT_EXTRA_ROLE_ACCESS_LEVEL,
    DEFAULT_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS,
    DEFAULT_IDLE_SESSION_TIMEOUT_MS,
    DEFAULT_RUNTIME_CONNECTION_LIMIT,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    EXTRA_ROLE_ACCESS_LEVELS,
    ExtraRoleAccessLevel,
    RANGES,
} from "./defaults";
import { identifierProblem } from "./identifiers";
import { APP_SCHEMA, roleSchemasProblem } from "./schemaPrivileges";

const COMPONENT = "AppDatabase";

/** One more login role on an app's database (a dashboard, another service sharing it). */
export interface ExtraRoleArgs {
    /** What the role may do with what `<app>_migrate` creates. @default "readonly" */
    readonly access?: ExtraRoleAccessLevel;
    /** The role's CONNECTION LIMIT. @default 10 */
    readonly connectionLimit?: number;
    /** Bump to give the role a new password. @default 0 */
    readonly rotation?: number;
    /** statement_timeout of the role, ms. @default 30000 */
    readonly statementTimeoutMs?: number;
    /** idle_in_transaction_session_timeout of the role, ms. @default 60000 */
    readonly idleInTransactionSessionTimeoutMs?: number;
    /** idle_session_timeout of the role, ms. @default 600000 */
    readonly idleSessionTimeoutMs?: number;
    /**
     * Member of the migrate role: it may ALTER and DROP what that role owns, as
     * a service that runs its own migrations needs. @default false
     */
    readonly runsMigrations?: boolean;
    /** The schemas this role reaches (USAGE, privileges, search_path): some of the app's `schemas`. @default the app's `schemas` */
    readonly schemas?: readonly string[];
}

/** An extra role with every default filled in. */
export type ResolvedExtraRole = Required<ExtraRoleArgs>;

/** A role's schemas when they are some of the app's; throws naming the argument otherwise. */
export function checkRoleSchemas(field: string, roleSchemas: readonly string[], appSchemas: readonly string[]): readonly string[] {
    const problem = roleSchemasProblem(roleSchemas, appSchemas);
    if (problem) throw new Error(`${COMPONENT}: \`${field}\` ${problem}`);
    return roleSchemas;
}

/** Fills in one extra role's defaults; throws naming the argument and the value when one is unusable. */
export function resolveExtraRole(roleName: string, spec: ExtraRoleArgs, appSchemas: readonly string[] = [APP_SCHEMA]): ResolvedExtraRole {
    const problem = identifierProblem(roleName);
    if (problem) throw new Error(`${COMPONENT}: \`extraRoles\` key ${problem}`);
    const arg = (field: string) => `extraRoles.${roleName}.${field}`;
    return {
        access: checkOneOf(COMPONENT, arg("access"), spec.access ?? DEFAULT_EXTRA_ROLE_ACCESS_LEVEL, EXTRA_ROLE_ACCESS_LEVELS),
        connectionLimit: checkInt(
            COMPONENT,
            arg("connectionLimit"),
            spec.connectionLimit ?? DEFAULT_RUNTIME_CONNECTION_LIMIT,
            RANGES.connectionLimit,
        ),
        rotation: checkInt(COMPONENT, arg("rotation"), spec.rotation ?? 0, RANGES.rotation),
        statementTimeoutMs: checkInt(
            COMPONENT,
            arg("statementTimeoutMs"),
            spec.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
            RANGES.timeoutMs,
        ),
        idleInTransactionSessionTimeoutMs: checkInt(
            COMPONENT,
            arg("idleInTransactionSessionTimeoutMs"),
            spec.idleInTransactionSessionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS,
            RANGES.timeoutMs,
        ),
        idleSessionTimeoutMs: checkInt(
            COMPONENT,
            arg("idleSessionTimeoutMs"),
            spec.idleSessionTimeoutMs ?? DEFAULT_IDLE_SESSION_TIMEOUT_MS,
            RANGES.timeoutMs,
        ),
        runsMigrations: spec.runsMigrations ?? false,
        schemas: checkRoleSchemas(arg("schemas"), spec.schemas ?? appSchemas, appSchemas),
    };
}
