/**
 * What the stack reads of a whole server before it plans (the preflight, the
 * adoption facts) and after (the access report): roles, databases, who may
 * connect where, and what a database holds.
 */
import { Query } from "./quote";

/** The server's version (`version_num`, e.g. 150004), max_connections and superuser_reserved_connections (`reserved`). */
export const serverSettingsQuery = (): Query => ({
    text: `SELECT current_setting('server_version_num')::int AS version_num,
                            current_setting('max_connections')::int AS max_connections,
                            current_setting('superuser_reserved_connections')::int AS reserved`,
    values: [],
});

/** Every role but PostgreSQL's own, with what the budget and the unmanaged-role check need, by name. */
export const liveRolesQuery = (): Query => ({
    text: `SELECT rolname, rolcanlogin, rolconnlimit, rolsuper, rolcreaterole, shobj_description(oid, 'pg_authid') AS comment
           FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY rolname`,
    values: [],
});

/** Every login role with its powers and its sessions now (`live`), by name. */
export const loginRolesQuery = (): Query => ({
    text: `SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolconnlimit,
                    (SELECT count(*) FROM pg_stat_activity a WHERE a.usesysid = r.oid AND a.backend_type = 'client backend')::int AS live
               FROM pg_roles r WHERE r.rolcanlogin ORDER BY r.rolname`,
    values: [],
});

/** Every database one can connect to, and whether PUBLIC may (`public_connect`). */
export const databasesQuery = (): Query => ({
    text: `SELECT d.datname,
                    d.datacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(d.datacl) a WHERE a.grantee = 0 AND a.privilege_type = 'CONNECT') AS public_connect
               FROM pg_database d WHERE d.datallowconn AND NOT d.datistemplate ORDER BY d.datname`,
    values: [],
});

/** Every database's name (`datname`), templates included. */
export const databaseNamesQuery = (): Query => ({ text: "SELECT datname FROM pg_database", values: [] });

/** Which login role may connect to which database (`rolname`, `datname`): a role with CONNECT LIMIT 0 cannot. */
export const connectMatrixQuery = (): Query => ({
    text: `SELECT r.rolname, d.datname
               FROM pg_roles r CROSS JOIN pg_database d
              WHERE r.rolcanlogin AND d.datallowconn AND NOT d.datistemplate
                AND (r.rolsuper OR r.rolconnlimit <> 0)
                AND has_database_privilege(r.oid, d.oid, 'CONNECT')
              ORDER BY r.rolname, d.datname`,
    values: [],
});

/** Who holds ADMIN OPTION on a login role (`role`, `held_by`), and whether it may use it (`usable`); superusers left out. */
export const adminOptionsQuery = (): Query => ({
    text: `SELECT r.rolname AS role, m.rolname AS held_by, pg_has_role(m.oid, r.oid, 'USAGE') AS usable
               FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
              WHERE a.admin_option AND r.rolcanlogin AND NOT m.rolsuper
              ORDER BY 1, 2`,
    values: [],
});

/** The session's admin towards the named roles: ADMIN OPTION on each (`admin`), uses its privileges (`usable`), and the version. */
export const adminStandingQuery = (names: readonly string[]): Query => ({
    text: `SELECT current_setting('server_version_num')::int AS version_num, r.rolname AS role,
                        EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.roleid = r.oid AND m.admin_option
                                   AND m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user)) AS admin,
                        pg_has_role(current_user, r.oid, 'USAGE') AS usable
                   FROM pg_roles r WHERE r.rolname = ANY($1)`,
    values: [[...names]],
});

/** The server's version (`v`). */
export const versionQuery = (): Query => ({ text: "SELECT current_setting('server_version_num')::int AS v", values: [] });

/** The password verifiers of the named roles (`rolname`, `rolpassword`): a superuser only may read them. */
export const passwordVerifiersQuery = (names: readonly string[]): Query => ({
    text: "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1)",
    values: [[...names]],
});

/** The tables, views, sequences of the session's database that `owner` does not own (`nspname`, `relname`, `relkind`, `owner`). */
export const foreignObjectsQuery = (owner: string): Query => ({
    text: `SELECT n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner) AS owner
                       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
                        AND pg_get_userbyid(c.relowner) <> $1
                      ORDER BY 1, 2`,
    values: [owner],
});

/** How many tables and views of `schemas` none of `owners` owns (`n`). */
export const othersOwnQuery = (schemas: readonly string[], owners: readonly string[]): Query => ({
    text: `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT pg_get_userbyid(c.relowner) = ANY($2)`,
    values: [[...schemas], [...owners]],
});

/** Per schema (`schema`) of `schemas`, how many tables and views (`tables`) and sequences (`sequences`) it holds. */
export const objectCountsQuery = (schemas: readonly string[]): Query => ({
    text: `SELECT n.nspname AS schema,
                        count(*) FILTER (WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f'))::int AS tables,
                        count(*) FILTER (WHERE c.relkind = 'S')::int AS sequences
                   FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
                  WHERE n.nspname = ANY($1) GROUP BY 1`,
    values: [[...schemas]],
});

/** The login roles, not superusers, that may connect to the session's database (`rolname`). */
export const connectingRolesQuery = (): Query => ({
    text: `SELECT rolname FROM pg_roles
                  WHERE rolcanlogin AND NOT rolsuper AND rolname !~ '^pg_'
                    AND has_database_privilege(oid, current_database(), 'CONNECT') ORDER BY 1`,
    values: [],
});
