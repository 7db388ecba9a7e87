/**
 * A database and who may connect to it: made, given away, dropped, and its
 * CONNECT and TEMPORARY taken from PUBLIC and given to the roles named.
 */
import { CURRENT_USER, ident, idents, PUBLIC, Query } from "./quote";

/** As the postgresql provider's Database made one: from template0, UTF8. */
export const createDatabase = (database: string, owner: string): string =>
    `CREATE DATABASE ${ident(database)} OWNER ${ident(owner)} TEMPLATE template0 ENCODING 'UTF8'`;

/** Drops it with every session still in it. */
export const dropDatabase = (database: string): string => `DROP DATABASE ${ident(database)} WITH (FORCE)`;

export const alterDatabaseOwner = (database: string, owner: string): string => `ALTER DATABASE ${ident(database)} OWNER TO ${ident(owner)}`;

/** What a database's CONNECT should be: these roles, and nobody else. */
export interface ConnectLock {
    readonly database: string;
    /** Granted CONNECT and TEMPORARY. */
    readonly grantees: readonly string[];
    /** Held them before and no longer do (those that still exist). @default none */
    readonly removed?: readonly string[];
    /**
     * The session's own role keeps CONNECT: a non-superuser admin could not
     * reach the database again once PUBLIC has lost it. @default false
     */
    readonly keepAdmin?: boolean;
}

/**
 * The statements that make a database's CONNECT what `lock` says, in order:
 * grants before the revokes, so no role that should connect is ever locked
 * out in between. Run as the database's owner. The same on create and update.
 */
export function connectLockStatements(lock: ConnectLock): string[] {
    const db = ident(lock.database);
    return [
        ...(lock.grantees.length > 0 ? [`GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO ${idents(lock.grantees)}`] : []),
        ...(lock.keepAdmin ? [`GRANT CONNECT ON DATABASE ${db} TO ${CURRENT_USER.keyword}`] : []),
        `REVOKE ALL ON DATABASE ${db} FROM ${PUBLIC.keyword}`,
        ...(lock.removed ?? []).map((r) => `REVOKE CONNECT, TEMPORARY ON DATABASE ${db} FROM ${ident(r)}`),
    ];
}

/** Undoes the hardening of a system database: PUBLIC may connect again. */
export const restorePublicConnect = (database: string): string =>
    `GRANT CONNECT, TEMPORARY ON DATABASE ${ident(database)} TO ${PUBLIC.keyword}`;

/** Takes back what a lock granted (PUBLIC stays revoked). */
export const revokeConnect = (database: string, roles: readonly string[]): string =>
    `REVOKE CONNECT, TEMPORARY ON DATABASE ${ident(database)} FROM ${idents(roles)}`;

/** A database's owner (`owner`) and CONNECT list (`acl`, `datacl` as text); no row when there is no such database. */
export const databaseQuery = (database: string): Query => ({
    text: "SELECT datacl::text[] AS acl, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1",
    values: [database],
});
