/**
 * Login roles: made, shaped, renamed, marked, emptied and dropped, their
 * settings and memberships, and how the catalog is read for them.
 */
import { UNQUOTED_IDENTIFIER } from "../identifiers";
import { ident, literal, Query, role, RoleRef } from "./quote";

/** What CREATE or ALTER ROLE says: the attribute keywords, the limit, the password when one is set. */
export interface RoleShape {
    readonly name: string;
    /** Keywords such as NOSUPERUSER, LOGIN, in order. */
    readonly flags: readonly string[];
    readonly connectionLimit: number;
    /** Set only when given (secret: the statement must not be logged). */
    readonly password?: string;
}

/** `CREATE ROLE ... WITH ...` when the role is new, else `ALTER ROLE ... WITH ...`. */
export function shapeRoleStatement(shape: RoleShape, exists: boolean): string {
    const password = shape.password === undefined ? "" : ` PASSWORD ${literal(shape.password)}`;
    const rest = `${shape.flags.map((f) => ` ${f}`).join("")} CONNECTION LIMIT ${Number(shape.connectionLimit)}${password}`;
    return `${exists ? "ALTER" : "CREATE"} ROLE ${ident(shape.name)} WITH${rest}`;
}

export const renameRole = (from: string, to: string): string => `ALTER ROLE ${ident(from)} RENAME TO ${ident(to)}`;

export const commentOnRole = (name: string, comment: string): string => `COMMENT ON ROLE ${ident(name)} IS ${literal(comment)}`;

/** Makes `member` a member of `group` (INHERIT, the default). */
export const grantRole = (group: string, member: RoleRef): string => `GRANT ${ident(group)} TO ${role(member)}`;

export const revokeRole = (group: string, member: RoleRef): string => `REVOKE ${ident(group)} FROM ${role(member)}`;

/** What `name` owns in the session's database goes to `to`. */
export const reassignOwned = (name: string, to: RoleRef): string => `REASSIGN OWNED BY ${ident(name)} TO ${role(to)}`;

/** The privileges of `name` in the session's database and on shared objects go (and what it still owns there). */
export const dropOwned = (name: string): string => `DROP OWNED BY ${ident(name)}`;

export const dropRole = (name: string): string => `DROP ROLE ${ident(name)}`;

const PARAMETER_NAME = /^[a-z_][a-z0-9_.]*$/;

/** A parameter name goes into ALTER ROLE as it is: only plain names pass. */
function parameter(name: string): string {
    if (!PARAMETER_NAME.test(name)) throw new Error(`RoleSettings: invalid parameter name ${JSON.stringify(name)}`);
    return name;
}

/**
 * A setting's value as SQL. search_path is a list: quoted as one literal it
 * would name a single schema called "a, b", so its (plain) schema names go
 * in unquoted, and anything else is refused.
 */
export function settingValue(name: string, value: string): string {
    if (name === "search_path") {
        const schemas = value.split(",").map((s) => s.trim());
        if (!schemas.every((s) => UNQUOTED_IDENTIFIER.test(s)))
            throw new Error(`RoleSettings: invalid search_path ${JSON.stringify(value)}`);
        return schemas.join(", ");
    }
    // Values cannot be bound parameters in ALTER ROLE: literals.
    return literal(value);
}

const settingTarget = (name: string, database?: string) =>
    `${ident(name)}${database === undefined ? "" : ` IN DATABASE ${ident(database)}`}`;

/** `ALTER ROLE ... SET`: in every database, or only in `database`. */
export const setRoleSetting = (name: string, parameterName: string, value: string, database?: string): string =>
    `ALTER ROLE ${settingTarget(name, database)} SET ${parameter(parameterName)} = ${settingValue(parameterName, value)}`;

export const resetRoleSetting = (name: string, parameterName: string, database?: string): string =>
    `ALTER ROLE ${settingTarget(name, database)} RESET ${parameter(parameterName)}`;

/** Of `names`, the roles that exist (`rolname`). */
export const existingRolesQuery = (names: readonly string[]): Query => ({
    text: "SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])",
    values: [[...names]],
});

/** Whether the session may use the privileges of a role (`ok`). */
export const usesRoleQuery = (name: string): Query => ({
    text: "SELECT pg_has_role(current_user, $1, 'USAGE') AS ok",
    values: [name],
});

/** A role's comment (`comment`), as `\du+` shows it. */
export const roleCommentQuery = (name: string): Query => ({
    text: "SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1",
    values: [name],
});

/** The attributes, role-wide settings and memberships of each named role that exists, in one query. */
export const roleAttributesQuery = (names: readonly string[]): Query => ({
    text: `SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolreplication, r.rolbypassrls,
                r.rolinherit, r.rolconnlimit, s.setconfig,
                ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                       WHERE m.member = r.oid ORDER BY 1) AS member_of
           FROM pg_roles r
           LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = 0
          WHERE r.rolname = ANY($1::text[])`,
    values: [[...names]],
});

/** A role's settings (`setconfig`), role-wide or in one database; no row when the role (or database) does not exist. */
export const roleSettingsQuery = (name: string, database?: string): Query =>
    database === undefined
        ? {
              text: `SELECT s.setconfig FROM pg_roles r
                 LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = 0
                WHERE r.rolname = $1`,
              values: [name],
          }
        : {
              text: `SELECT s.setconfig FROM pg_roles r CROSS JOIN pg_database d
                 LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = d.oid
                WHERE r.rolname = $1 AND d.datname = $2`,
              values: [name, database],
          };
