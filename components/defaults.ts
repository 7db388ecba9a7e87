/**
 * The library's vocabulary: the values a component argument may take, the
 * defaults a component fills in when one is left out, and the ranges it
 * accepts. The components resolve their arguments with these, and the stack
 * program's config schema uses the same constants, so a component used alone
 * is as strict as the stack config.
 */

/** What the runtime role may do with the objects the migrate role creates. */
export const ACCESS_LEVELS = ["readwrite", "readonly", "migrations"] as const;
/** `readwrite` and `readonly` through default privileges; `migrations`: nothing (the app's migrations grant it). */
export type AccessLevel = (typeof ACCESS_LEVELS)[number];
/** The access levels an extra role may have (an extra role has no migrations of its own). */
export const EXTRA_ROLE_ACCESS_LEVELS = ["readwrite", "readonly"] as const;
export type ExtraRoleAccessLevel = (typeof EXTRA_ROLE_ACCESS_LEVELS)[number];

/** libpq sslmode values. */
export const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof SSL_MODES)[number];

/**
 * Writers during a move (DataMove): `cutover` blocks the app's logins on the
 * old database and ends their sessions before the snapshot; `keep` copies
 * while it stays writable (writes after the snapshot are not carried).
 */
export const MOVE_WRITERS = ["cutover", "keep"] as const;
export type MoveWriters = (typeof MOVE_WRITERS)[number];
export const DEFAULT_MOVE_WRITERS: MoveWriters = "cutover";

/** Runtime role defaults: long enough for real requests, short enough to free stuck sessions. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
export const DEFAULT_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS = 60_000;
export const DEFAULT_IDLE_SESSION_TIMEOUT_MS = 600_000;
export const DEFAULT_RUNTIME_CONNECTION_LIMIT = 10;
export const DEFAULT_MIGRATE_CONNECTION_LIMIT = 2;
export const DEFAULT_ACCESS_LEVEL: AccessLevel = "readwrite";
export const DEFAULT_EXTRA_ROLE_ACCESS_LEVEL: ExtraRoleAccessLevel = "readonly";

/** Server defaults. */
export const DEFAULT_PORT = 5432;
export const DEFAULT_SSL_MODE: SslMode = "prefer";
export const DEFAULT_MAINTENANCE_DATABASE = "postgres";
export const DEFAULT_MAX_CONNECTIONS = 100;
export const DEFAULT_SUPERUSER_RESERVED_CONNECTIONS = 3;
export const DEFAULT_ADMIN_HEADROOM = 5;
/** The postgresql provider's pool size; its default of 20 has exhausted servers. */
export const DEFAULT_PROVISIONING_CONNECTIONS = 2;
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10;
export const DEFAULT_DEDICATED_MEMORY_MB = 512;
/**
 * Moving an adopted database's objects (ObjectOwnership): how long one owner
 * change waits for its lock (services' reads of that table queue behind it
 * for at most this long), and how long the step keeps retrying locked objects.
 */
export const DEFAULT_LOCK_TIMEOUT_MS = 2_000;
export const DEFAULT_MAX_LOCK_WAIT_SECONDS = 60;

/** An inclusive integer range and what a value in it is, for messages. */
export interface IntRange {
    readonly min: number;
    readonly max: number;
    /** What the value is, e.g. "a TCP port from 1 to 65535". */
    readonly what: string;
}

const range = (min: number, max: number, what: string): IntRange => ({ min, max, what });

/** PostgreSQL's integer setting ceiling. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** The accepted ranges, shared by the components and the config schema. */
export const RANGES = {
    timeoutMs: range(0, MAX_TIMEOUT_MS, "milliseconds as an integer >= 0 (0 disables the timeout)"),
    connectionLimit: range(1, 10_000, "a connection limit as an integer from 1 to 10000"),
    rotation: range(0, 1_000_000, "a rotation counter as an integer >= 0 (bump it to rotate)"),
    port: range(1, 65_535, "a TCP port from 1 to 65535"),
    hostPort: range(1024, 65_535, "a host port from 1024 to 65535"),
    connectTimeoutSeconds: range(1, 300, "seconds from 1 to 300"),
    maxConnections: range(1, 262_143, "max_connections as an integer"),
    superuserReservedConnections: range(0, 1000, "an integer >= 0"),
    adminHeadroom: range(0, 10_000, "an integer >= 0"),
    provisioningConnections: range(1, 20, "the provisioning tool's pool size, an integer from 1 to 20"),
    externalConnections: range(0, 10_000, "a connection count as an integer >= 0"),
    memoryMb: range(64, 1_048_576, "a memory limit in MB, at least 64"),
    lockTimeoutMs: range(1, 60_000, "a lock wait in milliseconds from 1 to 60000 (services' reads of a table queue behind it that long)"),
    maxLockWaitSeconds: range(0, 3_600, "seconds from 0 to 3600 (0: one try per object, no retries)"),
} as const satisfies Record<string, IntRange>;

/** A value as it reads in a message. */
export function describeValue(value: unknown): string {
    if (value === undefined) return "nothing";
    if (typeof value === "string") return JSON.stringify(value);
    if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
    return Array.isArray(value) ? "a list" : `an ${typeof value}`;
}

/** Whether `value` is an integer in `r`. */
export const inRange = (value: unknown, r: IntRange): value is number =>
    typeof value === "number" && Number.isInteger(value) && value >= r.min && value <= r.max;

/** `value`, or throws `<component>: \`<arg>\` must be <what>, got <value>` unless it is an integer in `r`. */
export function checkInt(component: string, arg: string, value: number, r: IntRange): number {
    if (!inRange(value, r)) throw new Error(`${component}: \`${arg}\` must be ${r.what}, got ${describeValue(value)}`);
    return value;
}

/** `value`, or throws `<component>: \`<arg>\` must be one of ..., got <value>` unless it is one of `values`. */
export function checkOneOf<T extends string>(component: string, arg: string, value: string, values: readonly T[]): T {
    if (!(values as readonly string[]).includes(value)) {
        throw new Error(`${component}: \`${arg}\` must be one of ${values.join(", ")}, got ${describeValue(value)}`);
    }
    return value as T;
}

/** `value`, or throws `<component>: \`<arg>\` must be <what>, got <value>` when it is empty. */
export function checkText(component: string, arg: string, value: string, what: string): string {
    if (typeof value !== "string" || value.length === 0)
        throw new Error(`${component}: \`${arg}\` must be ${what}, got ${describeValue(value)}`);
    return value;
}

/**
 * What every login role this program manages is (created or adopted): no
 * power over the server, the privileges of the roles it is a member of.
 * Named as the provider's Role arguments.
 */
export const LOGIN_ROLE_ATTRIBUTES = {
    login: true,
    superuser: false,
    createDatabase: false,
    createRole: false,
    replication: false,
    bypassRowLevelSecurity: false,
    inherit: true,
} as const;
