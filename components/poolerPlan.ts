/**
 * What a PgBouncer in front of a server may open, sized from the budget, and
 * its files (pgbouncer.ini, the auth file). Pure: the config check, the
 * budget and the component compute the same numbers.
 *
 * PgBouncer logs in to the server as the client's own user, so each app's
 * pooled server connections count against its runtime role's CONNECTION
 * LIMIT, the share the budget already gives it. The pools are sized to fit
 * in that share: pool_size + reserve_pool per instance, times the instances,
 * at most the limit. Every client behind the pooler waits for one of those
 * instead of taking a backend of its own.
 */
import { IntRange, SslMode } from "./defaults";

export const POOL_MODES = ["transaction", "session"] as const;
export type PoolMode = (typeof POOL_MODES)[number];

/** Built by scripts/pgbouncer-image.sh from Debian bookworm's package. */
export const DEFAULT_POOLER_IMAGE = "app-databases/pgbouncer:1.18";
export const DEFAULT_POOLER_PORT = 6432;
export const DEFAULT_POOLER_LISTEN_ADDRESS = "127.0.0.1";
export const DEFAULT_POOLER_MAX_CLIENT_CONNECTIONS = 1000;
export const DEFAULT_POOLER_INSTANCES = 1;
export const DEFAULT_RESERVE_POOL_SIZE = 0;

const range = (min: number, max: number, what: string): IntRange => ({ min, max, what });
export const POOLER_RANGES = {
    instances: range(1, 16, "a number of pooler instances from 1 to 16"),
    maxClientConnections: range(1, 100_000, "a client connection limit from 1 to 100000"),
    poolSize: range(1, 10_000, "a pool size as an integer from 1 to 10000"),
    reservePoolSize: range(0, 1_000, "a reserve pool size as an integer from 0 to 1000"),
} as const;

/** Where the auth file and pgbouncer.ini live in the container (scripts/pgbouncer-image). */
export const POOLER_CONFIG_DIR = "/etc/pgbouncer/app-databases";

export interface PoolerSizing {
    readonly instances: number;
    readonly reservePoolSize: number;
    /** One pool size for every app; derived from each app's runtime limit when omitted. */
    readonly poolSize?: number;
}

/** One app's share of a pooler: per instance, and over all instances. */
export interface AppPool {
    readonly app: string;
    readonly database: string;
    /** The runtime role(s) the pool logs in as. */
    readonly runtimeRole: string;
    /** CONNECTION LIMIT of the runtime role: the most its pools may open together. */
    readonly connectionLimit: number;
    readonly poolSize: number;
    readonly reservePoolSize: number;
    /** pool_size + reserve_pool: max_db_connections of one instance. */
    readonly perInstance: number;
    /** Server connections of every instance together. */
    readonly serverConnections: number;
}

export interface PooledApp {
    readonly app: string;
    readonly database: string;
    readonly runtimeRole: string;
    readonly connectionLimit: number;
}

/** The pool of each app: the explicit size, or as large as the runtime role's limit allows. */
export function appPool(app: PooledApp, sizing: PoolerSizing): AppPool {
    const poolSize = sizing.poolSize ?? Math.floor(app.connectionLimit / sizing.instances) - sizing.reservePoolSize;
    const perInstance = poolSize + sizing.reservePoolSize;
    return { ...app, poolSize, reservePoolSize: sizing.reservePoolSize, perInstance, serverConnections: perInstance * sizing.instances };
}

/** Why an app's pool cannot be what the sizing asks, or undefined. */
export function appPoolProblem(pool: AppPool, sizing: PoolerSizing): string | undefined {
    const each = `${sizing.instances} instance${sizing.instances === 1 ? "" : "s"} × (pool ${pool.poolSize} + reserve ${pool.reservePoolSize})`;
    if (pool.poolSize < 1) {
        return (
            `${pool.runtimeRole}'s CONNECTION LIMIT ${pool.connectionLimit} leaves no pool for ${sizing.instances} instance${sizing.instances === 1 ? "" : "s"} ` +
            `with reserve ${pool.reservePoolSize}: raise the app's connectionLimit to at least ${sizing.instances * (1 + pool.reservePoolSize)}, or lower instances or reservePoolSize`
        );
    }
    if (pool.serverConnections > pool.connectionLimit) {
        return (
            `${each} = ${pool.serverConnections} server connections for ${pool.runtimeRole}, over its CONNECTION LIMIT ${pool.connectionLimit}: ` +
            `lower poolSize to at most ${Math.floor(pool.connectionLimit / sizing.instances) - pool.reservePoolSize}, or raise the app's connectionLimit to ${pool.serverConnections}`
        );
    }
    return undefined;
}

export interface PgBouncerSettings {
    readonly mode: PoolMode;
    readonly listenAddress: string;
    readonly port: number;
    readonly maxClientConnections: number;
    /** The server the pools log in to. */
    readonly upstream: { readonly host: string; readonly port: number; readonly sslmode: SslMode };
    /** Below the runtime roles' idle_session_timeout, so the server never cuts a pooled connection first; 0: none. */
    readonly serverIdleTimeoutSeconds: number;
}

/** A value as pgbouncer.ini takes it: plain words only (every one here is generated or checked). */
function iniValue(value: string | number): string {
    const text = String(value);
    if (!/^[A-Za-z0-9_.:*/\-]*$/.test(text)) throw new Error(`PgBouncer: ${JSON.stringify(text)} cannot be written to pgbouncer.ini`);
    return text;
}

/** pgbouncer.ini: one [databases] entry per app with its own pool, the limits, SCRAM from the auth file. */
export function pgbouncerIni(settings: PgBouncerSettings, pools: readonly AppPool[]): string {
    const u = settings.upstream;
    const databases = [...pools]
        .sort((a, b) => (a.database < b.database ? -1 : a.database > b.database ? 1 : 0))
        .map(
            (p) =>
                `${iniValue(p.database)} = host=${iniValue(u.host)} port=${u.port} dbname=${iniValue(p.database)} ` +
                `pool_size=${p.poolSize} reserve_pool=${p.reservePoolSize} max_db_connections=${p.perInstance}`,
        );
    const global: Record<string, string | number> = {
        listen_addr: settings.listenAddress,
        listen_port: settings.port,
        // Instances share the host's port; the kernel spreads clients across them.
        so_reuseport: 1,
        unix_socket_dir: "",
        auth_type: "scram-sha-256",
        auth_file: `${POOLER_CONFIG_DIR}/userlist.txt`,
        pool_mode: settings.mode,
        max_client_conn: settings.maxClientConnections,
        // Every database has its own size; nothing else is served.
        default_pool_size: 1,
        reserve_pool_timeout: 3,
        server_tls_sslmode: u.sslmode,
        server_idle_timeout: settings.serverIdleTimeoutSeconds,
        server_login_retry: 2,
        // Drivers send these at startup (JDBC: extra_float_digits); PgBouncer refuses what it does not know.
        ignore_startup_parameters: "extra_float_digits",
        log_connections: 0,
        log_disconnections: 0,
        logfile: "",
    };
    return [
        "; Written by app-databases (components/poolerConfig.ts); changes reach PgBouncer by reload.",
        "[databases]",
        ...databases,
        "",
        "[pgbouncer]",
        ...Object.entries(global).map(([k, v]) => `${k} = ${iniValue(v)}`),
        "",
    ].join("\n");
}

/** The auth file: `"user" "password"` per line (double quotes doubled). PgBouncer does SCRAM with both sides from it. */
export function authFile(users: readonly { readonly name: string; readonly password: string }[]): string {
    const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
    return [...users]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((u) => `${quote(u.name)} ${quote(u.password)}\n`)
        .join("");
}
