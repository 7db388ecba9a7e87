/** Default privileges (`ALTER DEFAULT PRIVILEGES`): what a role gets on the objects an owner creates. */
import { ident, PUBLIC, Query } from "./quote";

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

const grantee = (role: string) => (role === "public" ? PUBLIC.keyword : ident(role));

/** GRANT `privileges` (e.g. `SELECT, INSERT`) or REVOKE them (`ALL`) for what an entry names. */
export function alterDefaultPrivileges(e: DefaultPrivilegeEntry, verb: "GRANT" | "REVOKE", privileges: string): string {
    const scope = `FOR ROLE ${ident(e.owner)}${e.schema === undefined ? "" : ` IN SCHEMA ${ident(e.schema)}`}`;
    const direction = verb === "GRANT" ? "TO" : "FROM";
    return `ALTER DEFAULT PRIVILEGES ${scope} ${verb} ${privileges} ON ${CATALOG[e.objectType].plural} ${direction} ${grantee(e.role)}`;
}

/** Whether the roles and the schema an entry names exist (`ok`). */
export const defaultPrivilegeTargetQuery = (e: DefaultPrivilegeEntry): Query => ({
    text: `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)
            AND ($2 = 'public' OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2))
            AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $3)) AS ok`,
    values: [e.owner, e.role, e.schema ?? null],
});

/**
 * The privileges (`privilege`) the session's database gives an entry's role:
 * a schema's own default ACL, or for the whole database its entry or, when it
 * has none, PostgreSQL's built-in default.
 */
export const defaultPrivilegesQuery = (e: DefaultPrivilegeEntry): Query => ({
    text: `SELECT DISTINCT a.privilege_type AS privilege
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
    values: [e.owner, e.schema ?? null, CATALOG[e.objectType].defacl, CATALOG[e.objectType].acldefault, e.role],
});
