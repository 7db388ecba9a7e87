/**
 * Schemas in a database and what roles may do in them: made, locked
 * (schema `public`), and USAGE granted and taken back.
 */
import { ident, PUBLIC, Query } from "./quote";

/** Made owned by `owner` if missing; never dropped but with its database. */
export const createSchema = (schema: string, owner: string): string =>
    `CREATE SCHEMA IF NOT EXISTS ${ident(schema)} AUTHORIZATION ${ident(owner)}`;

/** Privileges on a schema, e.g. `["USAGE", "CREATE"]`. */
export type SchemaPrivilege = "USAGE" | "CREATE";

export const grantOnSchema = (privileges: readonly SchemaPrivilege[], schema: string, to: string): string =>
    `GRANT ${privileges.join(", ")} ON SCHEMA ${ident(schema)} TO ${ident(to)}`;

export const revokeOnSchema = (privileges: readonly SchemaPrivilege[], schema: string, from: string): string =>
    `REVOKE ${privileges.join(", ")} ON SCHEMA ${ident(schema)} FROM ${ident(from)}`;

/** Takes from PUBLIC what PostgreSQL 14 gives every role: CREATE in schema `public`. */
export const revokePublicSchemaCreate = (): string => `REVOKE CREATE ON SCHEMA public FROM ${PUBLIC.keyword}`;

/** Whether PUBLIC may create in schema `public` (`open`) and its owner; no row when there is no such schema. */
export const publicSchemaQuery = (): Query => ({
    text: `SELECT EXISTS (SELECT 1 FROM aclexplode(coalesce(nspacl, acldefault('n', nspowner))) a
                         WHERE a.grantee = 0 AND a.privilege_type = 'CREATE') AS open,
                pg_get_userbyid(nspowner) AS owner
           FROM pg_namespace WHERE nspname = 'public'`,
    values: [],
});

/** Whether a role creates in schema `public` by its own right (`ok`): as (a member of) its owner or a grantee, PUBLIC not counted. */
export const createsInPublicQuery = (role: string): Query => ({
    text: `SELECT pg_has_role($1, nspowner, 'USAGE')
                OR EXISTS (SELECT 1 FROM aclexplode(coalesce(nspacl, acldefault('n', nspowner))) a
                            WHERE a.grantee <> 0 AND a.privilege_type = 'CREATE' AND pg_has_role($1, a.grantee, 'USAGE')) AS ok
           FROM pg_namespace WHERE nspname = 'public'`,
    values: [role],
});

/** Each named schema that exists (`schema`), with its owner (`owner`) and oid (`oid`). */
export const schemasQuery = (schemas: readonly string[]): Query => ({
    text: "SELECT nspname AS schema, pg_get_userbyid(nspowner) AS owner, oid::int8 AS oid FROM pg_namespace WHERE nspname = ANY($1::text[])",
    values: [[...schemas]],
});

/** The USAGE grants (`schema`, `role`) the named schemas hold directly, not through PUBLIC or membership. */
export const schemaUsageQuery = (schemas: readonly string[]): Query => ({
    text: `SELECT n.nspname AS schema, r.rolname AS role
           FROM pg_namespace n, aclexplode(n.nspacl) a JOIN pg_roles r ON r.oid = a.grantee
          WHERE a.privilege_type = 'USAGE' AND n.nspname = ANY($1::text[])`,
    values: [[...schemas]],
});
