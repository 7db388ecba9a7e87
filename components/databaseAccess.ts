/**
 * DatabaseAccess: who may CONNECT to a database (and create TEMPORARY tables).
 *
 * PostgreSQL grants CONNECT and TEMPORARY to PUBLIC on every new database, so
 * revoking from a single role does nothing: the privilege must be revoked from
 * PUBLIC and granted back to the app's own roles. The postgresql provider's
 * grant to `public` with an empty privilege list shows a diff on every plan
 * (cyrilgdn #133, pulumi-postgresql #88, #91), so this small dynamic resource
 * runs the SQL itself, in one transaction-free pass per change, and reads
 * `datacl` back on refresh.
 *
 * In an app's database it also takes CREATE on schema `public` away from
 * PUBLIC, as PostgreSQL 15 and later do by default: on 14 every role may
 * create objects there, so the runtime and read-only roles could run DDL. The
 * roles that should create there (the migrate role) keep or get CREATE first.
 *
 * For an app's own database it also makes the database (and the app's
 * schemas in it) and drops it on delete: one resource per database instead of
 * the postgresql provider's Database and Schemas beside it. Each custom
 * resource costs the engine two provider calls in a row in every preview, and
 * the provider's CREATE and DROP DATABASE needed a chain of databases to keep
 * its small pool from deadlocking (bench/README.md).
 *
 * It also sets the session settings of the roles that connect (`ALTER ROLE
 * ... SET`, for what the provider's Role lacks: idle_session_timeout), in the
 * same session: one dynamic resource per app instead of one per role. Each
 * dynamic resource carries its serialized provider in the state, and the
 * engine rewrites the whole state after every step, so fewer and smaller is
 * measurably faster (bench/).
 *
 * For an app's own database it also makes the app's login roles (`roles`,
 * with their generated passwords: managedRoles.ts) before the database, and
 * drops them after it; a role the declaration no longer has is dropped after
 * everything here was revoked from it. And it grants USAGE on the app's own
 * schemas (`schemaUsage`). An app is then one custom resource: each costs a
 * 100-app preview a Check and a Diff, strictly one after another, about 6 ms
 * of CPU-bound wall time per resource on two cores (bench/README.md).
 */
import * as pulumi from "@pulumi/pulumi";
import type { Client } from "pg";
import { AdminConnection, asRole, otherInstance, quoteIdent, withAdminClient } from "./adminConnection";
import {
    applyDefaultPrivileges,
    DefaultPrivilegeEntry,
    defaultPrivilegesKey,
    readDefaultPrivileges,
    revokeDefaultPrivileges,
} from "./defaultPrivileges";
import { RoleAttributes } from "./adoptedRole";
import {
    dropGoneRoles,
    dropRoles,
    inTransaction,
    ManagedRoleSpec,
    readAll,
    rolesChanged,
    shapeRoles,
    sortedMemberships,
} from "./managedRoles";
import { applyRoleSettingsPlan, readRoleSettings, RoleSettingsEntry, roleSettingsKey, roleSettingsPlan } from "./roleSettings";
import { RoleBudget, stackRoleMarker } from "./roleBudgetLock";
import { served, ServedResource } from "./servedResource";

export type { RoleSettingsEntry } from "./roleSettings";
export type { DefaultPrivilegeEntry } from "./defaultPrivileges";

export interface DatabaseAccessArgs {
    /** The admin connection (a secret: it carries the password). */
    readonly connection: pulumi.Input<AdminConnection>;
    /** The database to lock down. */
    readonly database: pulumi.Input<string>;
    /** The database's owner, whose privileges the grants are made with. @default read from the server */
    readonly owner?: pulumi.Input<string>;
    /** Roles granted CONNECT and TEMPORARY; everyone else is refused. */
    readonly grantees: pulumi.Input<pulumi.Input<string>[]>;
    /** On delete, give PUBLIC its CONNECT back (undoing the hardening of a system database). @default false */
    readonly restorePublicOnDelete?: boolean;
    /** Session settings per role, set server-wide; parameters not listed are left alone. @default none */
    readonly roleSettings?: pulumi.Input<
        pulumi.Input<{ role: pulumi.Input<string>; database?: pulumi.Input<string>; settings: Record<string, string> }>[]
    >;
    /**
     * Revoke CREATE on schema `public` from PUBLIC (the PostgreSQL 14 default
     * grant) in this database, after making sure these roles can create there.
     * @default undefined: the schema is left as it is (system databases)
     */
    readonly publicSchemaCreators?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Default privileges in this database (defaultPrivileges.ts): what each
     * role gets on what the owner creates. Entries not listed are left alone.
     * @default none
     */
    readonly defaultPrivileges?: pulumi.Input<pulumi.Input<DefaultPrivilegeEntryArgs>[]>;
    /**
     * The database is this resource's own: create it (owned by `owner`, from
     * template0, UTF8) and drop it on delete, with every session in it. A
     * database that exists already is refused on create unless it belongs to
     * `owner` (a create that failed half-way), never taken over (AdoptedDatabase
     * does that). @default false: the database exists and outlives this resource
     */
    readonly createDatabase?: boolean;
    /** Schemas made in the database, owned by `owner`, if missing; never dropped but with the database. @default none */
    readonly schemas?: pulumi.Input<string[]>;
    /**
     * Login roles this resource makes (before the database) and drops (after
     * it), by slot, with generated passwords (`passwords`): managedRoles.ts.
     * @default none
     */
    readonly roles?: pulumi.Input<Record<string, pulumi.Input<ManagedRoleSpec>>>;
    /** Upgrade only: roles of `roles` an earlier resource made, by slot, with the password each has (secret): taken over. */
    readonly existingPasswords?: pulumi.Input<Record<string, string> | undefined>;
    /** USAGE on schemas of the database, granted by their owner; one that goes is revoked. @default none */
    readonly schemaUsage?: pulumi.Input<pulumi.Input<SchemaUsageArgs>[]>;
    /**
     * On a shared server: what the connection budget allows, checked under a
     * server-wide lock whenever `roles` makes a role or raises a limit, and
     * the stack whose mark the roles carry (roleBudgetLock.ts). Not diffed
     * but for the stack. @default none: no check, roles marked by database only
     */
    readonly roleBudget?: RoleBudget;
}

/** USAGE on one schema for one role. */
export interface SchemaUsage {
    readonly schema: string;
    readonly role: string;
}

/** A SchemaUsage whose role may be an output. */
export interface SchemaUsageArgs {
    readonly schema: string;
    readonly role: pulumi.Input<string>;
}

/** A DefaultPrivilegeEntry whose role names may be outputs. */
export interface DefaultPrivilegeEntryArgs extends Omit<DefaultPrivilegeEntry, "owner" | "role"> {
    readonly owner: pulumi.Input<string>;
    readonly role: pulumi.Input<string>;
}

export interface AccessInputs {
    connection: AdminConnection;
    database: string;
    owner?: string;
    grantees: string[];
    restorePublicOnDelete?: boolean;
    roleSettings?: RoleSettingsEntry[];
    publicSchemaCreators?: string[];
    defaultPrivileges?: DefaultPrivilegeEntry[];
    createDatabase?: boolean;
    schemas?: string[];
    roles?: Record<string, ManagedRoleSpec>;
    existingPasswords?: Record<string, string>;
    schemaUsage?: SchemaUsage[];
    roleBudget?: RoleBudget;
}

export interface AccessState extends AccessInputs {
    /** Whether PUBLIC can connect (true only if someone granted it back behind our back). */
    publicConnect: boolean;
    /** Whether PUBLIC can create in schema `public` (PostgreSQL 14's default, or granted back). */
    publicSchemaCreate?: boolean;
    /** Secret: the password of each role of `roles`, by slot. */
    passwords?: Record<string, string>;
    /** The roles of `roles` as last read, by slot (a dropped one is missing): a difference from the declaration is drift. */
    rolesNow?: Record<string, RoleAttributes>;
    /**
     * A refresh found the database this resource makes gone: kept in the state
     * (with its roles' passwords) instead of forgotten, and made again, with
     * those passwords, by the next update. A protected stack's program refuses
     * that `up` first (program/goneDatabases.ts).
     */
    databaseGone?: boolean;
}

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

/**
 * A non-superuser admin needs CONNECT itself, or it cannot reach the database
 * once PUBLIC has lost it (the provider's default privileges, the schema lock,
 * every later refresh). Granted by the owner, before PUBLIC's is revoked.
 */
async function keepAdminConnect(client: Client, connection: AdminConnection, db: string): Promise<void> {
    if (!connection.superuser) await client.query(`GRANT CONNECT ON DATABASE ${db} TO CURRENT_USER`);
}

/** A database's owner, or undefined when there is no such database. */
export async function databaseOwner(client: Client, database: string): Promise<string | undefined> {
    const row = await client.query<{ owner: string }>("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1", [
        database,
    ]);
    return row.rows[0]?.owner;
}

async function ownerOf(client: Client, database: string): Promise<string> {
    const owner = await databaseOwner(client, database);
    if (owner === undefined) throw new Error(`database ${database} does not exist`);
    return owner;
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
async function makeDatabase(
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
    await asRole(client, connection, owner, () =>
        client.query(`CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(owner)} TEMPLATE template0 ENCODING 'UTF8'`),
    );
}

function refusedDatabase(database: string, owner: string): Error {
    return new Error(
        `database ${database} already exists on the server (owner ${owner}) and is not created over: ` +
            `take it over with its data (adopt.database: true), or give the app another database name`,
    );
}

/**
 * Before a create makes anything: its database may be there already only as
 * a create that failed half-way left it, owned by the owner (one of the
 * roles it makes); any other is refused.
 */
async function refuseForeignDatabase(client: Client, inputs: AccessInputs): Promise<void> {
    if (!inputs.createDatabase) return;
    const found = await databaseOwner(client, inputs.database);
    if (found !== undefined && found !== creatingOwner(inputs)) throw refusedDatabase(inputs.database, found);
}

/**
 * The comment on each role a DatabaseAccess makes: it says where the role
 * comes from (`\du+`), and a create that failed half-way knows its own roles
 * again by it (managedRoles.ts, shapeRoles).
 */
export const roleMarker = (database: string) => `app-databases: login role of database ${database}`;

/** The roles of `roles` whose slot `taken` lacks: the ones a create makes rather than takes over. */
/** What shapeRoles marks the roles with, and the budget it checks under the lock (shared servers). */
function roleGuard(inputs: AccessInputs) {
    const legacyMarker = roleMarker(inputs.database);
    if (!inputs.roleBudget) return { marker: legacyMarker, guard: undefined };
    return {
        marker: stackRoleMarker(inputs.roleBudget.stack, inputs.database),
        guard: { budget: inputs.roleBudget, admin: inputs.connection.username, legacyMarker },
    };
}

const madeRoles = (roles: Readonly<Record<string, ManagedRoleSpec>>, taken: Readonly<Record<string, string>> = {}) =>
    Object.fromEntries(Object.entries(roles).filter(([slot]) => taken[slot] === undefined));

/** Drops a database this resource owns, with the sessions still in it (the data-loss guard stands before this). */
async function dropDatabase(client: Client, connection: AdminConnection, database: string, owner: string): Promise<void> {
    if ((await databaseOwner(client, database)) === undefined) return;
    await asRole(client, connection, owner, () => client.query(`DROP DATABASE ${quoteIdent(database)} WITH (FORCE)`));
}

/** The owner a createDatabase resource gives its database; throws when the inputs lack one. */
function creatingOwner(inputs: AccessInputs): string {
    if (!inputs.owner) throw new Error(`DatabaseAccess ${inputs.database}: createDatabase needs the owner`);
    return inputs.owner;
}

/** Whether PUBLIC holds CREATE on schema `public` of the session's database; undefined when there is no such schema. */
export async function publicSchemaCreate(client: Client): Promise<{ open: boolean; owner: string } | undefined> {
    const row = await client.query<{ open: boolean; owner: string }>(
        `SELECT EXISTS (SELECT 1 FROM aclexplode(coalesce(nspacl, acldefault('n', nspowner))) a
                         WHERE a.grantee = 0 AND a.privilege_type = 'CREATE') AS open,
                pg_get_userbyid(nspowner) AS owner
           FROM pg_namespace WHERE nspname = 'public'`,
    );
    return row.rows[0];
}

/**
 * Whether `role` may create in schema `public` by its own right: as (a member
 * of) the owner or a grantee, PUBLIC not counted (on 14 PUBLIC has it, and is
 * about to lose it). On 15+ the database owner has it through pg_database_owner.
 */
async function createsInPublic(client: Client, role: string): Promise<boolean> {
    const row = await client.query<{ ok: boolean }>(
        `SELECT pg_has_role($1, nspowner, 'USAGE')
                OR EXISTS (SELECT 1 FROM aclexplode(coalesce(nspacl, acldefault('n', nspowner))) a
                            WHERE a.grantee <> 0 AND a.privilege_type = 'CREATE' AND pg_has_role($1, a.grantee, 'USAGE')) AS ok
           FROM pg_namespace WHERE nspname = 'public'`,
        [role],
    );
    return row.rows[0]?.ok ?? false;
}

/**
 * In the session's database: gives each of `creators` CREATE (and USAGE) on
 * schema `public` unless it has it already (the database owner does on 15+),
 * then revokes CREATE from PUBLIC. Checks the result: a REVOKE by someone
 * without the right only warns, and that must not pass as done.
 */
async function lockPublicSchema(
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
            if (!(await createsInPublic(client, role))) {
                await client.query(`GRANT CREATE, USAGE ON SCHEMA public TO ${quoteIdent(role)}`);
            }
        }
        if (before.open) await client.query("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
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

/**
 * Runs `work` once per owner of `entries` that still exists, acting for that
 * owner (a non-superuser admin may only change the default privileges of
 * roles it is a member of), with that owner's entries.
 */
async function perOwner(
    client: Client,
    connection: AdminConnection,
    entries: readonly DefaultPrivilegeEntry[],
    work: (owner: string, mine: (list: readonly DefaultPrivilegeEntry[]) => DefaultPrivilegeEntry[]) => Promise<void>,
): Promise<void> {
    for (const owner of [...new Set(entries.map((e) => e.owner))].sort()) {
        const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [owner]);
        if (!exists.rowCount) continue; // dropped: it has no default privileges left to change
        await asRole(client, connection, owner, () => work(owner, (list) => list.filter((e) => e.owner === owner)));
    }
}

const usageKey = (u: SchemaUsage) => `${u.schema}\u0000${u.role}`;

/** The order-free key of a list of SchemaUsage (what diff compares). */
export const schemaUsageKey = (usage: readonly SchemaUsage[] = []): string => usage.map(usageKey).sort().join("\u0001");

/** Grants the USAGE of `news`, then revokes what `olds` had that `news` lacks from the roles that still exist, each as its schema's owner. */
async function applySchemaUsage(
    client: Client,
    connection: AdminConnection,
    olds: readonly SchemaUsage[],
    news: readonly SchemaUsage[],
): Promise<void> {
    const wanted = new Set(news.map(usageKey));
    const gone = olds.filter((u) => !wanted.has(usageKey(u)));
    if (news.length === 0 && gone.length === 0) return;
    const owners = await client.query<{ schema: string; owner: string }>(
        "SELECT nspname AS schema, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = ANY($1::text[])",
        [[...new Set([...news, ...gone].map((u) => u.schema))]],
    );
    const ownerOfSchema = new Map(owners.rows.map((r) => [r.schema, r.owner]));
    const existing = await client.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])", [
        gone.map((u) => u.role),
    ]);
    const present = new Set(existing.rows.map((r) => r.rolname));
    const steps = [
        ...news.map((u) => ({ u, sql: `GRANT USAGE ON SCHEMA ${quoteIdent(u.schema)} TO ${quoteIdent(u.role)}` })),
        ...gone
            .filter((u) => present.has(u.role))
            .map((u) => ({ u, sql: `REVOKE USAGE ON SCHEMA ${quoteIdent(u.schema)} FROM ${quoteIdent(u.role)}` })),
    ];
    for (const { u, sql } of steps) {
        const owner = ownerOfSchema.get(u.schema);
        if (owner === undefined) continue; // no such schema: nothing to grant on, nothing left to revoke
        await asRole(client, connection, owner, () => client.query(sql));
    }
}

/** Of `usage`, the grants the schemas hold (directly, not through PUBLIC or membership). */
async function readSchemaUsage(client: Client, usage: readonly SchemaUsage[]): Promise<SchemaUsage[]> {
    const rows = await client.query<{ schema: string; role: string }>(
        `SELECT n.nspname AS schema, r.rolname AS role
           FROM pg_namespace n, aclexplode(n.nspacl) a JOIN pg_roles r ON r.oid = a.grantee
          WHERE a.privilege_type = 'USAGE' AND n.nspname = ANY($1::text[])`,
        [[...new Set(usage.map((u) => u.schema))]],
    );
    const held = new Set(rows.rows.map(usageKey));
    return usage.filter((u) => held.has(usageKey(u)));
}

/**
 * What DatabaseAccess does inside the database itself, in one session: the
 * missing schemas (default privileges are set in them), the schema `public`
 * lock, the default privileges and the schema USAGE `olds` had and `news` has.
 */
async function applyInDatabase(olds: AccessInputs | undefined, news: AccessInputs, owner: string): Promise<void> {
    const before = olds?.defaultPrivileges ?? [];
    const after = news.defaultPrivileges ?? [];
    const schemas = news.schemas ?? [];
    const usage = [...(olds?.schemaUsage ?? []), ...(news.schemaUsage ?? [])];
    if (!news.publicSchemaCreators && before.length === 0 && after.length === 0 && schemas.length === 0 && usage.length === 0) return;
    await withAdminClient(
        news.connection,
        async (client) => {
            if (schemas.length > 0) {
                await asRole(client, news.connection, owner, async () => {
                    for (const schema of schemas) {
                        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)} AUTHORIZATION ${quoteIdent(owner)}`);
                    }
                });
            }
            if (news.publicSchemaCreators) await lockPublicSchema(client, news.connection, news.database, owner, news.publicSchemaCreators);
            await perOwner(client, news.connection, [...before, ...after], (_, mine) =>
                applyDefaultPrivileges(client, mine(before), mine(after)),
            );
            await applySchemaUsage(client, news.connection, olds?.schemaUsage ?? [], news.schemaUsage ?? []);
        },
        news.database,
    );
}

/**
 * In the database, for each of `roles` that exists: what it owns goes to
 * `owner` (no table is lost with a role), then its privileges and default
 * privileges there go (DROP OWNED), so that DROP ROLE can succeed.
 */
async function releaseInDatabase(inputs: AccessInputs, owner: string, roles: readonly string[]): Promise<void> {
    await withAdminClient(
        inputs.connection,
        async (client) => {
            const found = await client.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])", [roles]);
            for (const { rolname } of found.rows) {
                await asRole(client, inputs.connection, owner, () =>
                    asRole(client, inputs.connection, rolname, async () => {
                        await client.query(`REASSIGN OWNED BY ${quoteIdent(rolname)} TO ${quoteIdent(owner)}`);
                        await client.query(`DROP OWNED BY ${quoteIdent(rolname)}`);
                    }),
                );
            }
        },
        inputs.database,
    );
}

/** Applies `news` settings; resets what `olds` set that `news` no longer does (on roles that still exist). */
async function syncRoleSettings(client: Client, olds: readonly RoleSettingsEntry[], news: readonly RoleSettingsEntry[]): Promise<void> {
    await applyRoleSettingsPlan(client, roleSettingsPlan(olds, news));
}

/** Whether two lists hold the same names, in any order. */
export const sameSet = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && [...a].sort().every((v, i) => v === [...b].sort()[i]);

/**
 * What DatabaseAccess' diff reports: another database replaces it; a new
 * owner, other grantees, other role settings, another server, or PUBLIC
 * having CONNECT again (granted behind its back, seen on refresh) update it.
 */
export function databaseAccessDiff(olds: AccessState, news: AccessInputs): pulumi.dynamic.DiffResult {
    const replaces = olds.database !== news.database ? ["database"] : [];
    const changed =
        replaces.length > 0 ||
        olds.owner !== news.owner ||
        olds.publicConnect ||
        olds.publicSchemaCreate === true ||
        !sameSet(olds.grantees, news.grantees) ||
        // A state from before the public-schema lock has no creators: see the provider's diff.
        (olds.publicSchemaCreators !== undefined && !sameSet(olds.publicSchemaCreators, news.publicSchemaCreators ?? [])) ||
        roleSettingsKey(olds.roleSettings) !== roleSettingsKey(news.roleSettings) ||
        defaultPrivilegesKey(olds.defaultPrivileges) !== defaultPrivilegesKey(news.defaultPrivileges) ||
        (olds.createDatabase ?? false) !== (news.createDatabase ?? false) ||
        !sameSet(olds.schemas ?? [], news.schemas ?? []) ||
        schemaUsageKey(olds.schemaUsage) !== schemaUsageKey(news.schemaUsage) ||
        rolesChanged(olds.roles ?? {}, olds.rolesNow ?? {}, news.roles ?? {}) ||
        // Roles made before they carried their stack's mark: marked by an update (no password changes).
        (news.roleBudget !== undefined && Object.keys(news.roles ?? {}).length > 0 && olds.roleBudget?.stack !== news.roleBudget.stack) ||
        olds.connection.host !== news.connection.host ||
        olds.connection.port !== news.connection.port ||
        olds.databaseGone === true ||
        // A dedicated container made anew (perhaps on an empty volume): the update makes again what is missing.
        otherInstance(olds.connection, news.connection);
    return { changes: changed, replaces, deleteBeforeReplace: true };
}

export const databaseAccessProvider: pulumi.dynamic.ResourceProvider<AccessInputs, AccessState> = {
    async create(inputs) {
        const roles = inputs.roles ?? {};
        const hasRoles = Object.keys(roles).length > 0;
        const state = await withAdminClient(inputs.connection, async (client) => {
            // Roles first: the database belongs to one of them. A database that is not theirs is refused before.
            await refuseForeignDatabase(client, inputs);
            const passwords = hasRoles
                ? await inTransaction(client, () =>
                      shapeRoles(client, undefined, roles, inputs.existingPasswords, roleGuard(inputs).marker, roleGuard(inputs).guard),
                  )
                : undefined;
            try {
                if (inputs.createDatabase) await makeDatabase(client, inputs.connection, inputs.database, creatingOwner(inputs), "create");
            } catch (err) {
                // No database, no state: the roles this create made go, so that the next one starts clean.
                if (hasRoles) {
                    const made = madeRoles(roles, inputs.existingPasswords);
                    await inTransaction(client, () => dropRoles(client, inputs.connection, made)).catch(() => undefined);
                }
                throw err;
            }
            const db = quoteIdent(inputs.database);
            const owner = inputs.owner ?? (await ownerOf(client, inputs.database));
            await asRole(client, inputs.connection, owner, async () => {
                // Grant before revoking, so no legitimate role is ever locked out in between.
                if (inputs.grantees.length > 0) {
                    await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO ${inputs.grantees.map(quoteIdent).join(", ")}`);
                }
                await keepAdminConnect(client, inputs.connection, db);
                await client.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
            });
            await syncRoleSettings(client, [], inputs.roleSettings ?? []);
            const row = await client.query<{ acl: string[] | null }>("SELECT datacl::text[] AS acl FROM pg_database WHERE datname = $1", [
                inputs.database,
            ]);
            const held = passwords ? { passwords, rolesNow: await readAll(client, roles) } : {};
            return { ...connectGrantees(row.rows[0]?.acl ?? null, owner), owner, held };
        });
        await applyInDatabase(undefined, inputs, state.owner);
        return {
            id: inputs.database,
            outs: {
                ...inputs,
                publicConnect: state.publicConnect,
                ...(inputs.publicSchemaCreators ? { publicSchemaCreate: false } : {}),
                ...state.held,
            },
        };
    },

    async diff(_id, olds, news) {
        const result = databaseAccessDiff(olds, news);
        if (!result.changes && olds.publicSchemaCreators === undefined && news.publicSchemaCreators !== undefined) {
            // A state from before the public-schema lock: an update only where PUBLIC can still create
            // in public (PostgreSQL 14); on 15+ there is nothing to do, and the upgrade shows no change.
            const schema = await withAdminClient(news.connection, publicSchemaCreate, news.database).catch(() => undefined);
            if (schema?.open) return { ...result, changes: true };
        }
        return result;
    },

    async update(_id, olds, news) {
        const roles = news.roles ?? {};
        const oldRoles = olds.roles ?? {};
        const hasRoles = Object.keys(roles).length > 0 || Object.keys(oldRoles).length > 0;
        const { owner, passwords } = await withAdminClient(news.connection, async (client) => {
            // New and renamed roles first; the ones that go, last (below).
            const held = olds.roles ? { roles: olds.roles, passwords: olds.passwords ?? {} } : undefined;
            const passwords = hasRoles
                ? await inTransaction(client, () =>
                      shapeRoles(client, held, roles, news.existingPasswords, roleGuard(news).marker, roleGuard(news).guard),
                  )
                : undefined;
            if (news.createDatabase) await makeDatabase(client, news.connection, news.database, creatingOwner(news), "update");
            const db = quoteIdent(news.database);
            const removed = olds.grantees.filter((g) => !news.grantees.includes(g));
            const owner = news.owner ?? (await ownerOf(client, news.database));
            await asRole(client, news.connection, owner, async () => {
                if (news.grantees.length > 0) {
                    await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO ${news.grantees.map(quoteIdent).join(", ")}`);
                }
                await keepAdminConnect(client, news.connection, db);
                await client.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
                for (const role of removed) {
                    const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
                    if (exists.rowCount) await client.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${db} FROM ${quoteIdent(role)}`);
                }
            });
            await syncRoleSettings(client, olds.roleSettings ?? [], news.roleSettings ?? []);
            return { owner, passwords };
        });
        await applyInDatabase(olds, news, owner);
        // A role that goes, once nothing here names it any more (CONNECT, settings, default privileges, USAGE):
        // what it still owns or holds in the database (a table it made, a grant the app's migrations gave it) first.
        const gone = Object.entries(oldRoles)
            .filter(([slot]) => !(slot in roles))
            .map(([, spec]) => spec.name);
        if (gone.length > 0) await releaseInDatabase(news, owner, gone);
        const rolesNow = hasRoles
            ? await withAdminClient(news.connection, async (client) => {
                  await inTransaction(client, () => dropGoneRoles(client, news.connection, oldRoles, roles));
                  return readAll(client, roles);
              })
            : undefined;
        return {
            outs: {
                ...news,
                publicConnect: false,
                ...(news.publicSchemaCreators ? { publicSchemaCreate: false } : {}),
                ...(hasRoles ? { passwords, rolesNow } : {}),
            },
        };
    },

    async read(id, props) {
        if (!props) throw new Error(`DatabaseAccess ${id}: nothing to read without prior state`);
        const acl = await withAdminClient(props.connection, async (client) => {
            const row = await client.query<{ acl: string[] | null; owner: string }>(
                "SELECT datacl::text[] AS acl, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1",
                [props.database],
            );
            if (!row.rowCount) return { found: false };
            const settings: RoleSettingsEntry[] = [];
            for (const entry of props.roleSettings ?? []) {
                const current = await readRoleSettings(client, entry.role, Object.keys(entry.settings), entry.database);
                if (current !== undefined) settings.push({ ...entry, settings: current });
            }
            const rolesNow = props.roles ? await readAll(client, props.roles) : undefined;
            const found = connectGrantees(row.rows[0].acl, props.owner ?? row.rows[0].owner);
            // The CONNECT a non-superuser admin keeps for itself is not one of the grantees.
            const admin =
                props.connection.superuser || props.grantees.includes(props.connection.username) ? [] : [props.connection.username];
            return { found: true, settings, rolesNow, ...found, grantees: found.grantees.filter((g) => !admin.includes(g)) };
        });
        if (!acl.found || !("grantees" in acl)) {
            // Its own database gone: kept, so that its roles keep their passwords; another database gone: forgotten.
            return props.createDatabase ? { id, props: { ...props, databaseGone: true } } : { id: "", props };
        }
        const inside =
            props.publicSchemaCreators || props.defaultPrivileges?.length || props.schemaUsage?.length
                ? await withAdminClient(
                      props.connection,
                      async (client) => ({
                          schema: props.publicSchemaCreators ? await publicSchemaCreate(client) : undefined,
                          defaultPrivileges: props.defaultPrivileges
                              ? await readDefaultPrivileges(client, props.defaultPrivileges)
                              : undefined,
                          schemaUsage: props.schemaUsage ? await readSchemaUsage(client, props.schemaUsage) : undefined,
                      }),
                      props.database,
                  )
                : undefined;
        return {
            id,
            props: {
                ...props,
                grantees: acl.grantees ?? [],
                publicConnect: acl.publicConnect ?? false,
                ...(props.roleSettings ? { roleSettings: acl.settings } : {}),
                ...(props.publicSchemaCreators ? { publicSchemaCreate: inside?.schema?.open ?? false } : {}),
                ...(props.defaultPrivileges ? { defaultPrivileges: inside?.defaultPrivileges } : {}),
                ...(props.schemaUsage ? { schemaUsage: inside?.schemaUsage } : {}),
                ...(props.roles ? { rolesNow: acl.rolesNow } : {}),
            },
        };
    },

    async delete(_id, props) {
        await deleteAccess(props);
        // Its roles go last: the database and everything that named them are gone.
        if (props.roles && Object.keys(props.roles).length > 0) {
            const roles = props.roles;
            await withAdminClient(props.connection, (client) => inTransaction(client, () => dropRoles(client, props.connection, roles)));
        }
    },
};

/** What delete undoes besides the roles: drops its own database, or takes back what it granted on another. */
async function deleteAccess(props: AccessState): Promise<void> {
    if (props.createDatabase) {
        // Its own database goes, and its grants, default privileges and per-database settings with it.
        await withAdminClient(props.connection, async (client) => {
            await syncRoleSettings(client, props.roleSettings ?? [], []);
            await dropDatabase(client, props.connection, props.database, creatingOwner(props));
        });
        return;
    }
    // Take back only what was granted; PUBLIC stays revoked, so a retained database stays closed.
    const present = await withAdminClient(props.connection, async (client) => {
        await syncRoleSettings(client, props.roleSettings ?? [], []);
        const db = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [props.database]);
        if (!db.rowCount) return false;
        if (props.restorePublicOnDelete) {
            // Undo the hardening: PUBLIC first, so nobody is locked out, then the explicit grants.
            const owner = props.owner ?? (await ownerOf(client, props.database));
            await asRole(client, props.connection, owner, async () => {
                await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${quoteIdent(props.database)} TO PUBLIC`);
            });
        }
        const roles = await client.query("SELECT rolname FROM pg_roles WHERE rolname = ANY($1)", [props.grantees]);
        const existing = roles.rows.map((r: { rolname: string }) => quoteIdent(r.rolname));
        if (existing.length === 0) return true;
        await asRole(client, props.connection, props.owner ?? (await ownerOf(client, props.database)), async () => {
            await client.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${quoteIdent(props.database)} FROM ${existing.join(", ")}`);
        });
        return true;
    });
    // Default privileges name their roles: left behind, they would keep DROP ROLE from succeeding.
    const privileges = props.defaultPrivileges ?? [];
    if (present && privileges.length > 0) {
        await withAdminClient(
            props.connection,
            (client) => perOwner(client, props.connection, privileges, (_, mine) => revokeDefaultPrivileges(client, mine(privileges))),
            props.database,
        );
    }
}
/** Served by the package plugin; in a TypeScript program the state stores the line that loads it (servedResource.ts). */
const databaseAccessProviderModule = served("DatabaseAccess", __filename, "databaseAccessProvider", databaseAccessProvider);

/** Revokes CONNECT and TEMPORARY from PUBLIC on a database and grants them to the named roles only; with createDatabase, makes the database first. */
export class DatabaseAccess extends ServedResource {
    // `declare`: a class field would reset what the engine set in super() (ES2022 class fields).
    /** The database's name, known once it exists (made by this resource when createDatabase). */
    declare public readonly database: pulumi.Output<string>;
    declare public readonly grantees: pulumi.Output<string[]>;
    declare public readonly publicConnect: pulumi.Output<boolean>;
    declare public readonly roles: pulumi.Output<Record<string, ManagedRoleSpec> | undefined>;
    /** Secret: the password of each role it makes, by slot. */
    declare public readonly passwords: pulumi.Output<Record<string, string> | undefined>;

    constructor(name: string, args: DatabaseAccessArgs, opts: pulumi.CustomResourceOptions = {}) {
        super(
            databaseAccessProviderModule,
            name,
            {
                owner: undefined,
                restorePublicOnDelete: false,
                ...args,
                roleSettings: args.roleSettings ?? [],
                publicSchemaCreators: args.publicSchemaCreators,
                defaultPrivileges: args.defaultPrivileges,
                publicSchemaCreate: undefined,
                grantees: pulumi.output(args.grantees).apply((g) => [...g].sort()),
                publicConnect: undefined,
                roles: args.roles === undefined ? undefined : sortedMemberships(args.roles),
                passwords: undefined,
                rolesNow: undefined,
            },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["connection", "passwords", "existingPasswords"] }),
            "app-databases",
            "DatabaseAccess",
        );
    }

    /** The name of the role it makes in `slot`, once made (what uses the role depends on this resource). */
    nameOf(slot: string): pulumi.Output<string> {
        return this.roles.apply((roles) => roles![slot].name);
    }

    /** The password of the role it makes in `slot` (secret). */
    passwordOf(slot: string): pulumi.Output<string> {
        return pulumi.secret(this.passwords.apply((passwords) => passwords![slot]));
    }
}
