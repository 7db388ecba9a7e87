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
import { quoteIdent } from "./adminConnection";

export const DEFAULT_PRIVILEGE_OBJECT_TYPES = ["table", "sequence", "function"] as const;
export type DefaultPrivilegeObjectType = (typeof DEFAULT_PRIVILEGE_OBJECT_TYPES)[number];

/** What `role` gets on the objects `owner` creates (in `schema`, or in the whole database). */
export interface DefaultPrivilegeEntry {
    readonly owner: string;
    /** A role name, or `public` for PUBLIC. */
    readonly role: string;
    /** Only in this schema. @default the whole database (as PUBLIC's EXECUTE on functions is) */
    readonly schema?: string;
    readonly objectType: DefaultPrivilegeObjectType;
    /** Sorted; empty takes everything away (PUBLIC's EXECUTE on functions). */
    readonly privileges: readonly string[];
}

/** pg_default_acl.defaclobjtype and acldefault()'s letter per object type. */
const CATALOG: Record<DefaultPrivilegeObjectType, { defacl: string; acldefault: string; plural: string }> = {
    table: { defacl: "r", acldefault: "r", plural: "TABLES" },
    sequence: { defacl: "S", acldefault: "s", plural: "SEQUENCES" },
    function: { defacl: "f", acldefault: "f", plural: "FUNCTIONS" },
};

const grantee = (role: string) => (role === "public" ? "PUBLIC" : quoteIdent(role));

/** What tells two entries apart; one entry per target. */
const target = (e: DefaultPrivilegeEntry) => JSON.stringify([e.owner, e.schema ?? null, e.objectType, e.role]);

/** A canonical form of a list of entries: equal lists have equal keys, in any order. */
export function defaultPrivilegesKey(entries: readonly DefaultPrivilegeEntry[] | undefined): string {
    return JSON.stringify((entries ?? []).map((e) => `${target(e)}=${[...e.privileges].sort().join(",")}`).sort());
}

function statement(e: DefaultPrivilegeEntry, verb: "GRANT" | "REVOKE", privileges: string): string {
    const scope = `FOR ROLE ${quoteIdent(e.owner)}${e.schema === undefined ? "" : ` IN SCHEMA ${quoteIdent(e.schema)}`}`;
    const direction = verb === "GRANT" ? "TO" : "FROM";
    return `ALTER DEFAULT PRIVILEGES ${scope} ${verb} ${privileges} ON ${CATALOG[e.objectType].plural} ${direction} ${grantee(e.role)}`;
}

/** Whether the roles and the schema an entry names exist (a role dropped by hand, a schema not made yet). */
async function targetExists(client: Client, e: DefaultPrivilegeEntry): Promise<boolean> {
    const row = await client.query<{ ok: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)
            AND ($2 = 'public' OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2))
            AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $3)) AS ok`,
        [e.owner, e.role, e.schema ?? null],
    );
    return row.rows[0]?.ok ?? false;
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
    await client.query("BEGIN");
    try {
        await revokeDefaultPrivileges(client, gone);
        for (const e of news) {
            await client.query(statement(e, "REVOKE", "ALL"));
            if (e.privileges.length > 0) await client.query(statement(e, "GRANT", e.privileges.join(", ")));
        }
        await client.query("COMMIT");
    } catch (err) {
        await client.query("ROLLBACK");
        throw err;
    }
}

/** Revokes what `entries` grant, where their roles and schemas still exist (before the roles are dropped). */
export async function revokeDefaultPrivileges(client: Client, entries: readonly DefaultPrivilegeEntry[]): Promise<void> {
    for (const e of entries) {
        if (await targetExists(client, e)) await client.query(statement(e, "REVOKE", "ALL"));
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
        const rows = await client.query<{ privilege: string }>(
            `SELECT DISTINCT a.privilege_type AS privilege
               FROM pg_roles o
               LEFT JOIN pg_namespace n ON n.nspname = $2
               CROSS JOIN LATERAL (
                   SELECT coalesce(
                       (SELECT d.defaclacl FROM pg_default_acl d
                         WHERE d.defaclrole = o.oid AND d.defaclobjtype = $3 AND d.defaclnamespace = coalesce(n.oid, 0)),
                       CASE WHEN $2::text IS NULL THEN acldefault($4::"char", o.oid) END) AS acl
               ) x
               CROSS JOIN LATERAL aclexplode(x.acl) a
              WHERE o.rolname = $1
                AND ($2::text IS NULL OR n.oid IS NOT NULL)
                AND a.grantee = CASE WHEN $5 = 'public' THEN 0 ELSE (SELECT oid FROM pg_roles WHERE rolname = $5) END
              ORDER BY 1`,
            [e.owner, e.schema ?? null, CATALOG[e.objectType].defacl, CATALOG[e.objectType].acldefault, e.role],
        );
        read.push({ ...e, privileges: rows.rows.map((r) => r.privilege) });
    }
    return read;
}
