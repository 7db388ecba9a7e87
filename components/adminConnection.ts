/**
 * How the provisioning tool reaches a server as its admin role, and how a
 * session acts for another role or in a transaction (what the statements of
 * sql/ run in).
 *
 * These run inside Pulumi's dynamic provider process: `pg` is required lazily
 * so the functions serialize cleanly, sessions are opened one at a time and
 * closed at once, so the dynamic resources hold at most one connection.
 */
import type { Client } from "pg";
import type { SslMode } from "./defaults";
import { CURRENT_USER } from "./sql/quote";
import { grantRole, revokeRole, usesRoleQuery } from "./sql/roles";

/** Admin connection facts; the password is a secret wherever it is stored. */
export interface AdminConnection {
    readonly host: string;
    readonly port: number;
    readonly username: string;
    readonly password: string;
    /** Database used for server-wide statements. */
    readonly database: string;
    readonly sslmode: SslMode;
    /** CA certificate file (PEM) the server's certificate is verified with, or `system`. @default none */
    readonly sslrootcert?: string;
    /** Client certificate and key files (PEM) the admin presents. @default none */
    readonly sslcert?: string;
    readonly sslkey?: string;
    readonly connectTimeoutSeconds: number;
    /** Whether the admin is a superuser; if not, ownership is borrowed per statement. */
    readonly superuser: boolean;
    /**
     * The server instance reached (a dedicated container's instance label): a
     * new one means a new container, maybe on an empty volume, and what the
     * resources made there is applied again. @default none
     */
    readonly serverInstance?: string;
}

/** Whether two connections reach another server instance (a dedicated container made anew). */
export const otherInstance = (olds: AdminConnection, news: AdminConnection): boolean => olds.serverInstance !== news.serverInstance;

/** TLS files of a connection, as libpq names them. */
export interface TlsFiles {
    readonly sslrootcert?: string;
    readonly sslcert?: string;
    readonly sslkey?: string;
}

/** How one connection attempt treats TLS: plain text, TLS without checks, or TLS verified against a CA. */
export type TlsAttempt = "plain" | "tls" | "verify-ca" | "verify-full";

/**
 * The attempts libpq (and the provider's lib/pq) makes for an sslmode, in
 * order: `prefer` tries TLS and then plain text, `allow` the other way round,
 * `require` never falls back to plain text and, with a CA file, verifies the
 * CA as libpq does. node-postgres on its own has no fallback, so the dynamic
 * resources make these attempts themselves and mean what the provider means.
 */
export function tlsAttempts(sslmode: string, sslrootcert?: string): TlsAttempt[] {
    switch (sslmode) {
        case "disable":
            return ["plain"];
        case "allow":
            return ["plain", "tls"];
        case "prefer":
            return [sslrootcert ? "verify-ca" : "tls", "plain"];
        case "require":
            return [sslrootcert ? "verify-ca" : "tls"];
        case "verify-ca":
            return ["verify-ca"];
        case "verify-full":
            return ["verify-full"];
        default:
            throw new Error(`unknown sslmode ${JSON.stringify(sslmode)}`);
    }
}

/** The `ssl` option of node-postgres for one attempt; reads the PEM files (in the provider process, where they are). */
export function sslOption(attempt: TlsAttempt, files: TlsFiles = {}): false | import("node:tls").ConnectionOptions {
    if (attempt === "plain") return false;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("node:fs") as typeof import("node:fs");
    const client = files.sslcert && files.sslkey ? { cert: fs.readFileSync(files.sslcert), key: fs.readFileSync(files.sslkey) } : {};
    if (attempt === "tls") return { rejectUnauthorized: false, ...client };
    // `system`: Node's trusted CAs, as libpq's sslrootcert=system means the system's.
    const ca = files.sslrootcert && files.sslrootcert !== "system" ? { ca: fs.readFileSync(files.sslrootcert) } : {};
    return {
        rejectUnauthorized: true,
        ...ca,
        ...client,
        // verify-ca: the chain must lead to the CA, whatever name the certificate carries.
        ...(attempt === "verify-ca" ? { checkServerIdentity: () => undefined } : {}),
    };
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

/**
 * The attempts for a session to this server, the one that reached it last in
 * this process first: with the default `prefer` and a server without TLS,
 * every session began with a refused TLS attempt, a second connection and a
 * second server process (a preview of 100 apps opens over 100 sessions).
 * The map is on globalThis so every copy of this module in a process shares it.
 */
export function attemptsFor(connection: AdminConnection): TlsAttempt[] {
    const all = tlsAttempts(connection.sslmode, connection.sslrootcert);
    const known = reachedBy().get(serverKey(connection));
    return known && all.includes(known) ? [known, ...all.filter((a) => a !== known)] : all;
}

/** Records the attempt that reached the server, for attemptsFor. */
export function rememberAttempt(connection: AdminConnection, attempt: TlsAttempt): void {
    reachedBy().set(serverKey(connection), attempt);
}

function reachedBy(): Map<string, TlsAttempt> {
    const g = globalThis as { __appDatabasesTlsReached?: Map<string, TlsAttempt> };
    return (g.__appDatabasesTlsReached ??= new Map<string, TlsAttempt>());
}

function serverKey(c: AdminConnection): string {
    return JSON.stringify([c.host, c.port, c.sslmode, c.sslrootcert ?? null]);
}

async function withAdminSession<T>(connection: AdminConnection, work: (client: Client) => Promise<T>, database?: string): Promise<T> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pg = require("pg") as typeof import("pg");
    let client: Client | undefined;
    const failures: string[] = [];
    const attempts = attemptsFor(connection);
    for (const attempt of attempts) {
        const candidate = new pg.Client({
            host: connection.host,
            port: connection.port,
            user: connection.username,
            password: connection.password,
            database: database ?? connection.database,
            ssl: sslOption(attempt, connection),
            connectionTimeoutMillis: connection.connectTimeoutSeconds * 1000,
            application_name: "app-databases",
        });
        try {
            await candidate.connect();
            client = candidate;
            rememberAttempt(connection, attempt);
            break;
        } catch (err) {
            // One attempt: its error as is; several: each named.
            const message = (err as Error).message;
            failures.push(attempts.length > 1 ? `${attempt}: ${message}` : message);
        }
    }
    if (!client) {
        throw new Error(
            `cannot connect to PostgreSQL at ${connection.host}:${connection.port} as ${connection.username}: ` +
                `${failures.join("; ")} (sslmode ${connection.sslmode})`,
        );
    }
    try {
        return await work(client);
    } finally {
        await client.end();
    }
}

/** The one quoting helper (sql/quote.ts), under the name scripts use. */
export { ident as quoteIdent } from "./sql/quote";

/**
 * Runs `work` with the privileges of `owner`. A superuser has them already; a
 * non-superuser admin (RDS, Cloud SQL, PostgreSQL 16 CREATEROLE) grants itself
 * membership for the statement and gives it back after, unless it was already a member.
 */
export async function asRole<T>(client: Client, connection: AdminConnection, owner: string, work: () => Promise<T>): Promise<T> {
    if (connection.superuser) return work();
    const member = await client.query<{ ok: boolean }>(usesRoleQuery(owner));
    if (member.rows[0]?.ok) return work();
    await client.query(grantRole(owner, CURRENT_USER));
    try {
        return await work();
    } finally {
        await client.query(revokeRole(owner, CURRENT_USER));
    }
}

/** Runs `work` in a transaction: what it changes is never left half made. */
export async function inTransaction<T>(client: Client, work: () => Promise<T>): Promise<T> {
    await client.query("BEGIN");
    try {
        const result = await work();
        await client.query("COMMIT");
        return result;
    } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
    }
}
