/**
 * The database of a DatabaseAccess and its locks: made (and dropped) when it
 * is the resource's own, its CONNECT and TEMPORARY taken from PUBLIC and
 * given to the grantees only, and CREATE on its schema `public` taken from
 * PUBLIC (PostgreSQL 14's default grant).
 */
import type { Client } from "pg";
import { AdminConnection, asRole } from "../adminConnection";
import {
    connectLockStatements,
    createDatabase,
    databaseQuery,
    dropDatabase as dropDatabaseStatement,
    restorePublicConnect,
    revokeConnect,
} from "../sql/database";
import { createsInPublicQuery, grantOnSchema, publicSchemaQuery, revokePublicSchemaCreate } from "../sql/schemas";
import { existingRoles } from "./loginRoles";

/** Parses `datacl` entries (`grantee=privs/grantor`, empty grantee = PUBLIC). */
export function connectGrantees(acl: readonly string[] | null, owner: string): { publicConnect: boolean; grantees: string[] } {
    if (acl === null) return { publicConnect: true, grantees: [] }; // NULL acl = defaults
    let publicConnect = false;
    const grantees: string[] = [];
    for (const item of acl) {
        const match = /^("?)(.*)\1=([A-Za-z*]*)\/.*$/.exec(item);
        if (!match || !match[3].includes("c")) continue;
        const grantee = match[2];
        if (grantee === "") publicConnect = true;
        else if (grantee !== owner) grantees.push(grantee);
    }
    return { publicConnect, grantees: grantees.sort() };
}

async function readDatabase(client: Client, database: string): Promise<{ acl: string[] | null; owner: string } | undefined> {
    return (await client.query<{ acl: string[] | null; owner: string }>(databaseQuery(database))).rows[0];
}

/** A database's owner, or undefined when there is no such database. */
export async function databaseOwner(client: Client, database: string): Promise<string | undefined> {
    return (await readDatabase(client, database))?.owner;
}

/** A database's owner; throws when there is no such database. */
export async function ownerOf(client: Client, database: string): Promise<string> {
    const owner = await databaseOwner(client, database);
    if (owner === undefined) throw new Error(`database ${database} does not exist`);
    return owner;
}

function refusedDatabase(database: string, owner: string): Error {
    return new Error(
        `database ${database} already exists on the server (owner ${owner}) and is not created over: ` +
            `take it over with its data (adopt.database: true), or give the app another database name`,
    );
}

/**
 * Before a create makes anything: its database may be there already only as
 * a create that failed half-way left it, owned by `owner` (one of the roles
 * it makes); any other is refused.
 */
export async function refuseForeignDatabase(client: Client, database: string, owner: string): Promise<void> {
    const found = await databaseOwner(client, database);
    if (found !== undefined && found !== owner) throw refusedDatabase(database, found);
}

/**
 * Makes a database this resource owns, as the postgresql provider's Database
 * did (OWNER, TEMPLATE template0, ENCODING UTF8), acting for the owner (a
 * non-superuser admin must be a member to give it away). One that exists is
 * kept on update (made by this resource, or by the provider's Database an
 * earlier version declared). On create it is kept only when it belongs to the
 * owner already, the app's own migrate role: a create that failed after CREATE
 * DATABASE (the server stopped, PostgreSQL 14's public schema could not be
 * locked) leaves no state, and the next `up` must go on from there. Any other
 * is refused, never taken over (adopt it with its data).
 */
export async function makeDatabase(
    client: Client,
    connection: AdminConnection,
    database: string,
    owner: string,
    step: "create" | "update",
): Promise<void> {
    const found = await databaseOwner(client, database);
    if (found !== undefined) {
        if (step === "update" || found === owner) return;
        throw refusedDatabase(database, found);
    }
    await asRole(client, connection, owner, () => client.query(createDatabase(database, owner)));
}

/** Drops a database this resource owns, with the sessions still in it (the data-loss guard stands before this). */
export async function dropDatabase(client: Client, connection: AdminConnection, database: string, owner: string): Promise<void> {
    if ((await databaseOwner(client, database)) === undefined) return;
    await asRole(client, connection, owner, () => client.query(dropDatabaseStatement(database)));
}

/**
 * Gives CONNECT and TEMPORARY to `grantees` and takes them from PUBLIC and
 * from the `removed` roles that still exist, as the owner (sql/database.ts
 * says in which order). A non-superuser admin keeps CONNECT itself, or it
 * could not reach the database again (default privileges, the schema lock,
 * every later refresh). Returns PUBLIC's CONNECT as the server has it after.
 */
export async function lockConnect(
    client: Client,
    connection: AdminConnection,
    lock: { readonly database: string; readonly owner: string; readonly grantees: readonly string[]; readonly removed?: readonly string[] },
): Promise<boolean> {
    const removed = lock.removed?.length ? await existingRoles(client, lock.removed) : [];
    const statements = connectLockStatements({ ...lock, removed, keepAdmin: !connection.superuser });
    await asRole(client, connection, lock.owner, async () => {
        for (const statement of statements) await client.query(statement);
    });
    return connectGrantees((await readDatabase(client, lock.database))?.acl ?? null, lock.owner).publicConnect;
}

/**
 * Who may connect as the server says, the CONNECT a non-superuser admin keeps
 * for itself left out; undefined when there is no such database.
 */
export async function readConnect(
    client: Client,
    connection: AdminConnection,
    props: { readonly database: string; readonly owner?: string; readonly grantees: readonly string[] },
): Promise<{ publicConnect: boolean; grantees: string[] } | undefined> {
    const found = await readDatabase(client, props.database);
    if (!found) return undefined;
    const read = connectGrantees(found.acl, props.owner ?? found.owner);
    const admin = connection.superuser || props.grantees.includes(connection.username) ? [] : [connection.username];
    return { ...read, grantees: read.grantees.filter((g) => !admin.includes(g)) };
}

/**
 * Takes back what lockConnect granted on a database that is not the
 * resource's own (PUBLIC stays revoked, so a retained database stays closed);
 * with `restorePublic`, PUBLIC first gets its CONNECT back. False when there
 * is no such database.
 */
export async function releaseConnect(
    client: Client,
    connection: AdminConnection,
    props: { readonly database: string; readonly owner?: string; readonly grantees: readonly string[]; readonly restorePublic?: boolean },
): Promise<boolean> {
    const found = await databaseOwner(client, props.database);
    if (found === undefined) return false;
    const owner = props.owner ?? found;
    // Undo the hardening: PUBLIC first, so nobody is locked out, then the explicit grants.
    if (props.restorePublic) await asRole(client, connection, owner, () => client.query(restorePublicConnect(props.database)));
    const existing = await existingRoles(client, props.grantees);
    if (existing.length > 0) await asRole(client, connection, owner, () => client.query(revokeConnect(props.database, existing)));
    return true;
}

/** Whether PUBLIC holds CREATE on schema `public` of the session's database; undefined when there is no such schema. */
export async function publicSchemaCreate(client: Client): Promise<{ open: boolean; owner: string } | undefined> {
    return (await client.query<{ open: boolean; owner: string }>(publicSchemaQuery())).rows[0];
}

/**
 * Whether `role` may create in schema `public` by its own right: as (a member
 * of) the owner or a grantee, PUBLIC not counted (on 14 PUBLIC has it, and is
 * about to lose it). On 15+ the database owner has it through pg_database_owner.
 */
async function createsInPublic(client: Client, role: string): Promise<boolean> {
    return (await client.query<{ ok: boolean }>(createsInPublicQuery(role))).rows[0]?.ok ?? false;
}

/**
 * In the session's database: gives each of `creators` CREATE (and USAGE) on
 * schema `public` unless it has it already (the database owner does on 15+),
 * then revokes CREATE from PUBLIC. Checks the result: a REVOKE by someone
 * without the right only warns, and that must not pass as done.
 */
export async function lockPublicSchema(
    client: Client,
    connection: AdminConnection,
    database: string,
    owner: string,
    creators: readonly string[],
): Promise<void> {
    const before = await publicSchemaCreate(client);
    if (!before) return; // no public schema: nothing to lock
    await asRole(client, connection, owner, async () => {
        for (const role of creators) {
            if (!(await createsInPublic(client, role))) await client.query(grantOnSchema(["CREATE", "USAGE"], "public", role));
        }
        if (before.open) await client.query(revokePublicSchemaCreate());
    });
    const after = await publicSchemaCreate(client);
    const missing: string[] = [];
    for (const role of creators) {
        if (!(await createsInPublic(client, role))) missing.push(role);
    }
    if (after?.open || missing.length > 0) {
        throw new Error(
            `database ${database}: cannot ${after?.open ? "revoke CREATE on schema public from PUBLIC" : `grant CREATE on schema public to ${missing.join(", ")}`}: ` +
                `the schema belongs to ${before.owner} and ${connection.username} may not change its privileges. ` +
                `Run as ${before.owner} in ${database}: GRANT CREATE, USAGE ON SCHEMA public TO ${creators.join(", ")}; REVOKE CREATE ON SCHEMA public FROM PUBLIC`,
        );
    }
}
