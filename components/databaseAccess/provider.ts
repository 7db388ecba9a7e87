/**
 * DatabaseAccess' provider: what create, update, read and delete do, in the
 * order that keeps every step safe, from the parts of databaseAccess/: the
 * database and its locks (database.ts), what it keeps inside it (schemas.ts)
 * and the login roles it makes (loginRoles.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { AdminConnection, inTransaction, otherInstance, withAdminClient } from "../adminConnection";
import { RoleAttributes } from "../adoptedRole";
import { DefaultPrivilegeEntry, defaultPrivilegesKey } from "../defaultPrivileges";
import { sameSet } from "../identifiers";
import { dropGoneRoles, ManagedRoleSpec, readAll, rolesChanged } from "../managedRoles";
import { RoleBudget } from "../roleBudgetLock";
import { readRoleSettings, RoleSettingsEntry, roleSettingsKey, syncRoleSettings } from "../roleSettings";
import {
    dropDatabase,
    lockConnect,
    makeDatabase,
    ownerOf,
    publicSchemaCreate,
    readConnect,
    refuseForeignDatabase,
    releaseConnect,
} from "./database";
import { dropAccessRoles, dropMadeRoles, goneRoles, releaseInDatabase, shapeAccessRoles } from "./loginRoles";
import { applyInDatabase, readInDatabase, revokeInDatabase, SchemaUsage, schemaUsageKey } from "./schemas";

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

/** The owner a createDatabase resource gives its database; throws when the inputs lack one. */
function creatingOwner(inputs: AccessInputs): string {
    if (!inputs.owner) throw new Error(`DatabaseAccess ${inputs.database}: createDatabase needs the owner`);
    return inputs.owner;
}

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

/**
 * Create and update alike, in one session: the roles (`olds`' as held, none
 * on create), the database when it is the resource's own, its CONNECT lock
 * (what `olds` granted that `news` does not is revoked), the role settings;
 * on create, the roles as they are then.
 */
async function applyAccess(olds: AccessState | undefined, news: AccessInputs) {
    const roles = news.roles ?? {};
    const hasRoles = Object.keys(roles).length > 0 || Object.keys(olds?.roles ?? {}).length > 0;
    return withAdminClient(news.connection, async (client) => {
        // Roles first: the database belongs to one of them. On create, a database that is not theirs is refused before.
        if (!olds && news.createDatabase) await refuseForeignDatabase(client, news.database, creatingOwner(news));
        const held = olds?.roles ? { roles: olds.roles, passwords: olds.passwords ?? {} } : undefined;
        const passwords = hasRoles ? await shapeAccessRoles(client, news, held) : undefined;
        try {
            if (news.createDatabase)
                await makeDatabase(client, news.connection, news.database, creatingOwner(news), olds ? "update" : "create");
        } catch (err) {
            // No database, no state: the roles this create made go, so that the next one starts clean.
            if (!olds && hasRoles) await dropMadeRoles(client, news);
            throw err;
        }
        const owner = news.owner ?? (await ownerOf(client, news.database));
        const removed = olds?.grantees.filter((g) => !news.grantees.includes(g));
        const publicConnect = await lockConnect(client, news.connection, {
            database: news.database,
            owner,
            grantees: news.grantees,
            removed,
        });
        await syncRoleSettings(client, olds?.roleSettings ?? [], news.roleSettings ?? []);
        const rolesNow = !olds && passwords ? await readAll(client, roles) : undefined;
        return { owner, passwords, publicConnect, rolesNow };
    });
}

export const databaseAccessProvider: pulumi.dynamic.ResourceProvider<AccessInputs, AccessState> = {
    async create(inputs) {
        const { owner, passwords, publicConnect, rolesNow } = await applyAccess(undefined, inputs);
        await applyInDatabase(undefined, inputs, owner);
        return {
            id: inputs.database,
            outs: {
                ...inputs,
                publicConnect,
                ...(inputs.publicSchemaCreators ? { publicSchemaCreate: false } : {}),
                ...(passwords ? { passwords, rolesNow } : {}),
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
        const { owner, passwords } = await applyAccess(olds, news);
        await applyInDatabase(olds, news, owner);
        // A role that goes, once nothing here names it any more (CONNECT, settings, default privileges, USAGE):
        // what it still owns or holds in the database (a table it made, a grant the app's migrations gave it) first.
        await releaseInDatabase(news.connection, news.database, owner, goneRoles(oldRoles, roles));
        const rolesNow = passwords
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
                ...(passwords ? { passwords, rolesNow } : {}),
            },
        };
    },

    async read(id, props) {
        if (!props) throw new Error(`DatabaseAccess ${id}: nothing to read without prior state`);
        const found = await withAdminClient(props.connection, async (client) => {
            const connect = await readConnect(client, props.connection, props);
            if (!connect) return undefined;
            const settings: RoleSettingsEntry[] = [];
            for (const entry of props.roleSettings ?? []) {
                const current = await readRoleSettings(client, entry.role, Object.keys(entry.settings), entry.database);
                if (current !== undefined) settings.push({ ...entry, settings: current });
            }
            const rolesNow = props.roles ? await readAll(client, props.roles) : undefined;
            return { ...connect, settings, rolesNow };
        });
        // Its own database gone: kept, so that its roles keep their passwords; another database gone: forgotten.
        if (!found) return props.createDatabase ? { id, props: { ...props, databaseGone: true } } : { id: "", props };
        const inside = await readInDatabase(props);
        return {
            id,
            props: {
                ...props,
                grantees: found.grantees,
                publicConnect: found.publicConnect,
                ...(props.roleSettings ? { roleSettings: found.settings } : {}),
                ...(props.publicSchemaCreators ? { publicSchemaCreate: inside.publicSchemaCreate ?? false } : {}),
                ...(props.defaultPrivileges ? { defaultPrivileges: inside.defaultPrivileges } : {}),
                ...(props.schemaUsage ? { schemaUsage: inside.schemaUsage } : {}),
                ...(props.roles ? { rolesNow: found.rolesNow } : {}),
            },
        };
    },

    async delete(_id, props) {
        if (props.createDatabase) {
            // Its own database goes, and its grants, default privileges and per-database settings with it.
            await withAdminClient(props.connection, async (client) => {
                await syncRoleSettings(client, props.roleSettings ?? [], []);
                await dropDatabase(client, props.connection, props.database, creatingOwner(props));
            });
        } else {
            const present = await withAdminClient(props.connection, async (client) => {
                await syncRoleSettings(client, props.roleSettings ?? [], []);
                return releaseConnect(client, props.connection, { ...props, restorePublic: props.restorePublicOnDelete });
            });
            if (present) await revokeInDatabase(props);
        }
        // Its roles go last: the database and everything that named them are gone.
        await dropAccessRoles(props.connection, props.roles ?? {});
    },
};
