/**
 * What a DatabaseAccess keeps inside its database, in one session there: the
 * app's schemas, the lock on schema `public` (database.ts), the default
 * privileges (defaultPrivileges.ts) and the USAGE of schemas.
 */
import type { Client } from "pg";
import { AdminConnection, asRole, withAdminClient } from "../adminConnection";
import { applyDefaultPrivileges, DefaultPrivilegeEntry, readDefaultPrivileges, revokeDefaultPrivileges } from "../defaultPrivileges";
import { createSchema, grantOnSchema, revokeOnSchema, schemasQuery, schemaUsageQuery } from "../sql/schemas";
import { lockPublicSchema, publicSchemaCreate } from "./database";
import { existingRoles } from "./loginRoles";

/** USAGE on one schema for one role. */
export interface SchemaUsage {
    readonly schema: string;
    readonly role: string;
}

/** What DatabaseAccess keeps in the database, as its inputs say. */
export interface InsideInputs {
    readonly connection: AdminConnection;
    readonly database: string;
    readonly publicSchemaCreators?: readonly string[];
    readonly defaultPrivileges?: readonly DefaultPrivilegeEntry[];
    readonly schemas?: readonly string[];
    readonly schemaUsage?: readonly SchemaUsage[];
}

const usageKey = (u: SchemaUsage) => `${u.schema}\u0000${u.role}`;

/** The order-free key of a list of SchemaUsage (what diff compares). */
export const schemaUsageKey = (usage: readonly SchemaUsage[] = []): string => usage.map(usageKey).sort().join("\u0001");

/**
 * Runs `work` once per owner of `entries` that still exists, acting for that
 * owner (a non-superuser admin may only change the default privileges of
 * roles it is a member of), with that owner's entries.
 */
async function perOwner(
    client: Client,
    connection: AdminConnection,
    entries: readonly DefaultPrivilegeEntry[],
    work: (mine: (list: readonly DefaultPrivilegeEntry[]) => DefaultPrivilegeEntry[]) => Promise<void>,
): Promise<void> {
    const owners = [...new Set(entries.map((e) => e.owner))].sort();
    const present = new Set(await existingRoles(client, owners));
    for (const owner of owners) {
        if (!present.has(owner)) continue; // dropped: it has no default privileges left to change
        await asRole(client, connection, owner, () => work((list) => list.filter((e) => e.owner === owner)));
    }
}

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
        schemasQuery([...new Set([...news, ...gone].map((u) => u.schema))]),
    );
    const ownerOfSchema = new Map(owners.rows.map((r) => [r.schema, r.owner]));
    const present = new Set(
        await existingRoles(
            client,
            gone.map((u) => u.role),
        ),
    );
    const steps = [
        ...news.map((u) => ({ u, sql: grantOnSchema(["USAGE"], u.schema, u.role) })),
        ...gone.filter((u) => present.has(u.role)).map((u) => ({ u, sql: revokeOnSchema(["USAGE"], u.schema, u.role) })),
    ];
    for (const { u, sql } of steps) {
        const owner = ownerOfSchema.get(u.schema);
        if (owner === undefined) continue; // no such schema: nothing to grant on, nothing left to revoke
        await asRole(client, connection, owner, () => client.query(sql));
    }
}

/** Of `usage`, the grants the schemas hold (directly, not through PUBLIC or membership). */
async function readSchemaUsage(client: Client, usage: readonly SchemaUsage[]): Promise<SchemaUsage[]> {
    const rows = await client.query<{ schema: string; role: string }>(schemaUsageQuery([...new Set(usage.map((u) => u.schema))]));
    const held = new Set(rows.rows.map(usageKey));
    return usage.filter((u) => held.has(usageKey(u)));
}

/**
 * Makes the database hold what `news` asks for, from what `olds` had (none
 * on create), in one session there, acting for `owner`: the missing schemas
 * first (default privileges are set in them), the schema `public` lock, the
 * default privileges, the schema USAGE.
 */
export async function applyInDatabase(olds: InsideInputs | undefined, news: InsideInputs, owner: string): Promise<void> {
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
                    for (const schema of schemas) await client.query(createSchema(schema, owner));
                });
            }
            if (news.publicSchemaCreators) await lockPublicSchema(client, news.connection, news.database, owner, news.publicSchemaCreators);
            await perOwner(client, news.connection, [...before, ...after], (mine) =>
                applyDefaultPrivileges(client, mine(before), mine(after)),
            );
            await applySchemaUsage(client, news.connection, olds?.schemaUsage ?? [], news.schemaUsage ?? []);
        },
        news.database,
    );
}

/** What the database holds of what `props` keeps there (undefined where it keeps nothing of that kind). */
export async function readInDatabase(props: InsideInputs): Promise<{
    publicSchemaCreate?: boolean;
    defaultPrivileges?: DefaultPrivilegeEntry[];
    schemaUsage?: SchemaUsage[];
}> {
    if (!props.publicSchemaCreators && !props.defaultPrivileges?.length && !props.schemaUsage?.length) return {};
    return withAdminClient(
        props.connection,
        async (client) => ({
            ...(props.publicSchemaCreators ? { publicSchemaCreate: (await publicSchemaCreate(client))?.open ?? false } : {}),
            ...(props.defaultPrivileges ? { defaultPrivileges: await readDefaultPrivileges(client, props.defaultPrivileges) } : {}),
            ...(props.schemaUsage ? { schemaUsage: await readSchemaUsage(client, props.schemaUsage) } : {}),
        }),
        props.database,
    );
}

/** Revokes the default privileges `props` gave (they name their roles: left behind, they would keep DROP ROLE from succeeding). */
export async function revokeInDatabase(props: InsideInputs): Promise<void> {
    const privileges = props.defaultPrivileges ?? [];
    if (privileges.length === 0) return;
    await withAdminClient(
        props.connection,
        (client) => perOwner(client, props.connection, privileges, (mine) => revokeDefaultPrivileges(client, mine(privileges))),
        props.database,
    );
}
