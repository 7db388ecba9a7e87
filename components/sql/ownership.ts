/**
 * Objects changing owner without blocking a service (lockWaits.ts,
 * objectOwnership.ts): the owner change, the short transaction it runs in,
 * and how the catalog is read for movable objects and the sessions in the way.
 */
import { ident, Query } from "./quote";

/** `SET LOCAL lock_timeout`, in milliseconds. */
export function lockTimeout(lockTimeoutMs: number): string {
    if (!Number.isInteger(lockTimeoutMs) || lockTimeoutMs < 1)
        throw new Error(`lock timeout must be a whole number of ms >= 1, got ${lockTimeoutMs}`);
    return `SET LOCAL lock_timeout = ${lockTimeoutMs}`;
}

/** `kind` is an ALTER keyword (TABLE, VIEW, ...), `name` schema-qualified and quoted already (movableRelationsQuery). */
export const ownerChange = (kind: string, name: string, to: string): string => `ALTER ${kind} ${name} OWNER TO ${ident(to)}`;

/** One statement in a transaction of its own that waits at most `lockTimeoutMs` for a lock; sent as one round trip. */
export const shortTransaction = (statement: string, lockTimeoutMs: number): string =>
    ["BEGIN", lockTimeout(lockTimeoutMs), statement, "COMMIT"].join(";\n");

/**
 * The tables, views, materialized views, foreign tables and free-standing
 * sequences in `schemas` owned by one of `from`, not part of an extension
 * (`oid`, `kind` as relkind, `name` quoted and qualified, `owner`).
 */
export const movableRelationsQuery = (schemas: readonly string[], from: readonly string[]): Query => ({
    text: `SELECT c.oid::int8 AS oid, c.relkind::text AS kind, format('%I.%I', n.nspname, c.relname) AS name, pg_get_userbyid(c.relowner) AS owner
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = ANY($1) AND pg_get_userbyid(c.relowner) = ANY($2)
            AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
            AND NOT EXISTS (SELECT 1 FROM pg_depend d
                             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                               AND (d.deptype = 'e' OR (c.relkind = 'S' AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))))
          ORDER BY 3`,
    values: [[...schemas], [...from]],
});

/** The functions and procedures in `schemas` owned by one of `from`, not part of an extension (`kind` fn or pr, `name` with its arguments). */
export const movableRoutinesQuery = (schemas: readonly string[], from: readonly string[]): Query => ({
    text: `SELECT p.oid::int8 AS oid, CASE p.prokind WHEN 'p' THEN 'pr' ELSE 'fn' END AS kind,
                format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS name,
                pg_get_userbyid(p.proowner) AS owner
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = ANY($1) AND pg_get_userbyid(p.proowner) = ANY($2) AND p.prokind IN ('f', 'p')
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
          ORDER BY 3`,
    values: [[...schemas], [...from]],
});

/** The extension a schema belongs to (`extension`, null: none); no row when there is no such schema. */
export const schemaExtensionQuery = (schema: string): Query => ({
    text: `SELECT (SELECT e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                  WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e' LIMIT 1) AS extension
           FROM pg_namespace n WHERE n.nspname = $1`,
    values: [schema],
});

/**
 * The sessions holding a granted lock on a catalog row or, for a table, on
 * what changes owner with it (indexes, TOAST table, owned sequences): every
 * lock conflicts with ACCESS EXCLUSIVE.
 */
export const blockersQuery = (catalog: "pg_class" | "pg_proc" | "pg_namespace", oid: number): Query => ({
    text: `WITH target AS (SELECT $1::regclass::oid AS classid, $2::oid AS objid),
     locked AS (
         SELECT classid, objid FROM target
         UNION ALL
         SELECT d.classid, d.objid FROM pg_depend d JOIN target t ON d.refclassid = t.classid AND d.refobjid = t.objid
          WHERE t.classid = 'pg_class'::regclass AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
SELECT a.pid, a.usename AS username, a.application_name AS application, a.backend_type AS "backendType", a.state,
       floor(extract(epoch FROM now() - a.xact_start))::int AS "xactSeconds",
       floor(extract(epoch FROM now() - a.state_change))::int AS "stateSeconds",
       left(a.query, 200) AS query
  FROM pg_stat_activity a
 WHERE a.pid <> pg_backend_pid()
   AND EXISTS (SELECT 1 FROM pg_locks l JOIN locked k
                  ON (l.locktype = 'relation' AND k.classid = 'pg_class'::regclass AND l.relation = k.objid)
                  OR (l.locktype = 'object' AND l.classid = k.classid AND l.objid = k.objid)
                WHERE l.pid = a.pid AND l.granted
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
 ORDER BY a.xact_start NULLS LAST, a.pid`,
    values: [catalog, oid],
});
