/**
 * How the provisioning tool reaches a server as its admin role, and the small
 * SQL helpers the dynamic resources (DatabaseAccess, RoleSettings) share.
 *
 * These run inside Pulumi's dynamic provider process: `pg` is required lazily
 * so the functions serialize cleanly, sessions are opened one at a time and
 * closed at once, so the dynamic resources hold at most one connection.
 */
import type { Client } from "pg";
import type { SslMode } from "./defaults";

/** Admin connection facts; the password is a secret wherever it is stored. */
export interface AdminConnection {
    readonly host: string;
    readonly port: number;
    readonly username: string;
    readonly password: string;
    /** Database used for server-wide statements. */
    readonly database: string;
    readonly sslmode: SslMode;
    readonly connectTimeoutSeconds: number;
    /** Whether the admin is a superuser; if not, ownership is borrowed per statement. */
    readonly superuser: boolean;
}

/** The `ssl` option of node-postgres for a libpq sslmode. */
export function sslOption(sslmode: string): false | { rejectUnauthorized: boolean } {
    switch (sslmode) {
        case "require":
            return { rejectUnauthorized: false };
        case "verify-ca":
        case "verify-full":
            return { rejectUnauthorized: true };
        default:
            // disable, allow, prefer: node-postgres has no fallback, so stay in plain text
            return false;
    }
}

/**
 * One session at a time per provider process: the engine runs many dynamic
 * resources at once, and each would otherwise hold its own connection. Kept on
 * globalThis so it is shared by every serialized provider in the process.
 */
async function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
    const g = globalThis as { __appDatabasesSqlGate?: Promise<unknown> };
    const previous = g.__appDatabasesSqlGate ?? Promise.resolve();
    const run = previous.then(work, work);
    g.__appDatabasesSqlGate = run.catch(() => undefined);
    return run;
}

/** Runs `work` on a fresh session to `database` (default: the maintenance database), then closes it. */
export async function withAdminClient<T>(connection: AdminConnection, work: (client: Client) => Promise<T>, database?: string): Promise<T> {
    return oneAtATime(() => withAdminSession(connection, work, database));
}

async function withAdminSession<T>(connection: AdminConnection, work: (client: Client) => Promise<T>, database?: string): Promise<T> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pg = require("pg") as typeof import("pg");
    const client = new pg.Client({
        host: connection.host,
        port: connection.port,
        user: connection.username,
        password: connection.password,
        database: database ?? connection.database,
        ssl: sslOption(connection.sslmode),
        connectionTimeoutMillis: connection.connectTimeoutSeconds * 1000,
        application_name: "app-databases",
    });
    try {
        await client.connect();
    } catch (err) {
        throw new Error(
            `cannot connect to PostgreSQL at ${connection.host}:${connection.port} as ${connection.username}: ${(err as Error).message}`,
        );
    }
    try {
        return await work(client);
    } finally {
        await client.end();
    }
}

/** Double-quotes an identifier; names are validated before they get here, this is belt and braces. */
export function quoteIdent(name: string): string {
    return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Runs `work` with the privileges of `owner`. A superuser has them already; a
 * non-superuser admin (RDS, Cloud SQL, PostgreSQL 16 CREATEROLE) grants itself
 * membership for the statement and gives it back after, unless it was already a member.
 */
export async function asRole<T>(client: Client, connection: AdminConnection, owner: string, work: () => Promise<T>): Promise<T> {
    if (connection.superuser) return work();
    const member = await client.query<{ ok: boolean }>("SELECT pg_has_role(current_user, $1, 'USAGE') AS ok", [owner]);
    if (member.rows[0]?.ok) return work();
    await client.query(`GRANT ${quoteIdent(owner)} TO CURRENT_USER`);
    try {
        return await work();
    } finally {
        await client.query(`REVOKE ${quoteIdent(owner)} FROM CURRENT_USER`);
    }
}
