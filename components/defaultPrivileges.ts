/**
 * Default privileges (`ALTER DEFAULT PRIVILEGES`) as DatabaseAccess keeps
 * them: what the runtime and extra roles get on the tables, sequences and
 * functions the migrate role creates.
 *
 * The postgresql provider's DefaultPrivileges resource connects to each app's
 * database with a pool of its own, so a stack of N apps held up to N pools at
 * once (seen in `up --refresh` as 8 sessions against a budget of 3). Applied
 * here, in the DatabaseAccess session that is already in the app's database,
 * the provider only ever connects to the maintenance database, and each app
 * has two resources fewer.
 */
import type { Client } from "pg";
import { inTransaction } from "./adminConnection";
import {
    alterDefaultPrivileges,
    DefaultPrivilegeEntry,
    defaultPrivilegesQuery,
    defaultPrivilegeTargetQuery,
} from "./sql/defaultPrivileges";

export { DEFAULT_PRIVILEGE_OBJECT_TYPES } from "./sql/defaultPrivileges";
export type { DefaultPrivilegeEntry, DefaultPrivilegeObjectType } from "./sql/defaultPrivileges";

/** What tells two entries apart; one entry per target. */
const target = (e: DefaultPrivilegeEntry) => JSON.stringify([e.owner, e.schema ?? null, e.objectType, e.role]);

/** A canonical form of a list of entries: equal lists have equal keys, in any order. */
export function defaultPrivilegesKey(entries: readonly DefaultPrivilegeEntry[] | undefined): string {
    return JSON.stringify((entries ?? []).map((e) => `${target(e)}=${[...e.privileges].sort().join(",")}`).sort());
}

/** Whether the roles and the schema an entry names exist (a role dropped by hand, a schema not made yet). */
async function targetExists(client: Client, e: DefaultPrivilegeEntry): Promise<boolean> {
    return (await client.query<{ ok: boolean }>(defaultPrivilegeTargetQuery(e))).rows[0]?.ok ?? false;
}

/**
 * Makes the session's database hold exactly `news`: each entry's privileges
 * are revoked and granted again in one transaction (so nothing in between
 * sees them missing), and what `olds` had that `news` no longer names is
 * revoked. The session must be allowed to act for each owner (superuser, or
 * member: see asRole).
 */
export async function applyDefaultPrivileges(
    client: Client,
    olds: readonly DefaultPrivilegeEntry[],
    news: readonly DefaultPrivilegeEntry[],
): Promise<void> {
    const kept = new Set(news.map(target));
    const gone = olds.filter((e) => !kept.has(target(e)));
    if (gone.length === 0 && news.length === 0) return;
    await inTransaction(client, async () => {
        await revokeDefaultPrivileges(client, gone);
        for (const e of news) {
            await client.query(alterDefaultPrivileges(e, "REVOKE", "ALL"));
            if (e.privileges.length > 0) await client.query(alterDefaultPrivileges(e, "GRANT", e.privileges.join(", ")));
        }
    });
}

/** Revokes what `entries` grant, where their roles and schemas still exist (before the roles are dropped). */
export async function revokeDefaultPrivileges(client: Client, entries: readonly DefaultPrivilegeEntry[]): Promise<void> {
    for (const e of entries) {
        if (await targetExists(client, e)) await client.query(alterDefaultPrivileges(e, "REVOKE", "ALL"));
    }
}

/**
 * Each entry with the privileges the session's database really gives: a
 * schema's own default ACL, or for the whole database its entry or, when it
 * has none, PostgreSQL's built-in default (PUBLIC may EXECUTE functions).
 */
export async function readDefaultPrivileges(client: Client, entries: readonly DefaultPrivilegeEntry[]): Promise<DefaultPrivilegeEntry[]> {
    const read: DefaultPrivilegeEntry[] = [];
    for (const e of entries) {
        const rows = await client.query<{ privilege: string }>(defaultPrivilegesQuery(e));
        read.push({ ...e, privileges: rows.rows.map((r) => r.privilege) });
    }
    return read;
}
