/**
 * The end state every tool must reach, and a catalog snapshot to check it:
 * roles (attributes, connection limit, settings, password kind), databases
 * (owner, datacl) and default ACLs (pg_default_acl, read in each database),
 * normalized so that order does not matter and a grantor that is the object's
 * owner reads "(owner)".
 */
import { Client } from "pg";
import { PgTarget } from "./util";

export interface AppSpec {
    readonly name: string;
    /** CONNECTION LIMIT of <app>_app. */
    readonly connectionLimit: number;
    /** CONNECTION LIMIT of <app>_migrate. */
    readonly migrateConnectionLimit: number;
}

/** The runtime role's settings: the program's defaults. */
export const RUNTIME_SETTINGS: Readonly<Record<string, string>> = {
    statement_timeout: "30000",
    idle_in_transaction_session_timeout: "60000",
    idle_session_timeout: "600000",
};
export const RUNTIME_LIMIT = 2;
export const MIGRATE_LIMIT = 1;
/** The "one limit change" phase: app001's runtime limit goes from 2 to 3. */
export const CHANGED_LIMIT = 3;

export function appSpecs(names: readonly string[], changed = false): AppSpec[] {
    return names.map((name, i) => ({
        name,
        connectionLimit: changed && i === 0 ? CHANGED_LIMIT : RUNTIME_LIMIT,
        migrateConnectionLimit: MIGRATE_LIMIT,
    }));
}

export interface RoleState {
    name: string;
    attrs: string; // e.g. LOGIN INHERIT NOSUPERUSER ...
    connlimit: number;
    config: string[];
    password: string; // SCRAM-SHA-256, md5, none
}
export interface DatabaseState {
    name: string;
    owner: string;
    acl: string[];
}
export interface DefaultAclState {
    database: string;
    role: string;
    schema: string;
    objtype: string;
    acl: string[];
}
export interface Catalog {
    roles: RoleState[];
    databases: DatabaseState[];
    defaultAcls: DefaultAclState[];
}

const ATTRS: ReadonlyArray<[string, string]> = [
    ["rolcanlogin", "LOGIN"],
    ["rolinherit", "INHERIT"],
    ["rolsuper", "SUPERUSER"],
    ["rolcreatedb", "CREATEDB"],
    ["rolcreaterole", "CREATEROLE"],
    ["rolreplication", "REPLICATION"],
    ["rolbypassrls", "BYPASSRLS"],
];

function attrString(row: Record<string, unknown>): string {
    return ATTRS.map(([col, word]) => (row[col] ? word : `NO${word}`)).join(" ");
}

/** `grantee=privs/grantor` entries, privileges sorted, PUBLIC named, the owner as grantor named "(owner)". */
export function normalizeAcl(acl: readonly string[] | null, owner: string): string[] {
    if (acl === null) return ["(default)"];
    return acl
        .map((item) => {
            const m = /^("?)(.*?)\1=([A-Za-z*]*)\/(.*)$/.exec(item);
            if (!m) return item;
            const grantee = m[2] === "" ? "PUBLIC" : m[2];
            const grantor = m[4].replace(/^"(.*)"$/, "$1");
            return `${grantee}=${m[3].split("").sort().join("")}/${grantor === owner ? "(owner)" : grantor}`;
        })
        .sort();
}

async function withClient<T>(pg: PgTarget, database: string, work: (c: Client) => Promise<T>): Promise<T> {
    const client = new Client({
        host: pg.host,
        port: pg.port,
        user: pg.user,
        password: pg.password,
        database,
        application_name: "bench-catalog",
    });
    await client.connect();
    try {
        return await work(client);
    } finally {
        await client.end();
    }
}

/** Every role and database that is not the server's own, with their default ACLs. */
export async function snapshot(pg: PgTarget): Promise<Catalog> {
    const { roles, databases } = await withClient(pg, "postgres", async (c) => {
        const roles = await c.query(
            `SELECT a.rolname, a.rolcanlogin, a.rolinherit, a.rolsuper, a.rolcreatedb, a.rolcreaterole, a.rolreplication,
                    a.rolbypassrls, a.rolconnlimit,
                    CASE WHEN a.rolpassword IS NULL THEN 'none' WHEN a.rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'SCRAM-SHA-256'
                         WHEN a.rolpassword LIKE 'md5%' THEN 'md5' ELSE 'plain' END AS password,
                    coalesce(s.setconfig, '{}') AS config
               FROM pg_authid a
               LEFT JOIN pg_db_role_setting s ON s.setrole = a.oid AND s.setdatabase = 0
              WHERE a.rolname !~ '^pg_' AND a.rolname <> $1
              ORDER BY 1`,
            [pg.user],
        );
        const dbs = await c.query(
            `SELECT d.datname, r.rolname AS owner, d.datacl::text[] AS acl
               FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
              WHERE d.datname NOT IN ('postgres', 'template0', 'template1')
              ORDER BY 1`,
        );
        return { roles: roles.rows, databases: dbs.rows };
    });
    const defaultAcls: DefaultAclState[] = [];
    for (const db of databases) {
        const rows = await withClient(pg, db.datname, (c) =>
            c.query(
                `SELECT d.defaclrole::regrole::text AS role, coalesce(n.nspname, '') AS schema, d.defaclobjtype AS objtype,
                        d.defaclacl::text[] AS acl
                   FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
                  ORDER BY 1, 2, 3`,
            ),
        );
        for (const r of rows.rows) {
            defaultAcls.push({
                database: db.datname,
                role: r.role,
                schema: r.schema,
                objtype: r.objtype,
                acl: normalizeAcl(r.acl, r.role),
            });
        }
    }
    return {
        roles: roles.map((r) => ({
            name: r.rolname,
            attrs: attrString(r),
            connlimit: r.rolconnlimit,
            config: [...(r.config as string[])].sort(),
            password: r.password,
        })),
        databases: databases.map((d) => ({ name: d.datname, owner: d.owner, acl: normalizeAcl(d.acl, d.owner) })),
        defaultAcls,
    };
}

/** What the catalog must say after creating `apps` (readwrite access, default timeouts). */
export function expectedCatalog(apps: readonly AppSpec[]): Catalog {
    const roles: RoleState[] = [];
    const databases: DatabaseState[] = [];
    const defaultAcls: DefaultAclState[] = [];
    const attrs = "LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";
    for (const app of apps) {
        const migrate = `${app.name}_migrate`;
        const runtime = `${app.name}_app`;
        roles.push({ name: migrate, attrs, connlimit: app.migrateConnectionLimit, config: [], password: "SCRAM-SHA-256" });
        roles.push({
            name: runtime,
            attrs,
            connlimit: app.connectionLimit,
            config: Object.entries(RUNTIME_SETTINGS)
                .map(([k, v]) => `${k}=${v}`)
                .sort(),
            password: "SCRAM-SHA-256",
        });
        databases.push({ name: app.name, owner: migrate, acl: [`${migrate}=CTc/(owner)`, `${runtime}=Tc/(owner)`].sort() });
        defaultAcls.push({ database: app.name, role: migrate, schema: "public", objtype: "S", acl: [`${runtime}=Urw/(owner)`] });
        defaultAcls.push({ database: app.name, role: migrate, schema: "public", objtype: "r", acl: [`${runtime}=adrw/(owner)`] });
    }
    const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    return { roles: roles.sort(byName), databases: databases.sort(byName), defaultAcls };
}

/** Differences between two catalogs, one line each (empty when they are the same). */
export function compareCatalogs(expected: Catalog, actual: Catalog, limit = 20): string[] {
    const diffs: string[] = [];
    const keyed = <T>(items: readonly T[], key: (t: T) => string) => new Map(items.map((i) => [key(i), JSON.stringify(i)]));
    const sections: Array<[string, Map<string, string>, Map<string, string>]> = [
        ["role", keyed(expected.roles, (r) => r.name), keyed(actual.roles, (r) => r.name)],
        ["database", keyed(expected.databases, (d) => d.name), keyed(actual.databases, (d) => d.name)],
        [
            "default ACL",
            keyed(expected.defaultAcls, (d) => `${d.database}/${d.role}/${d.schema}/${d.objtype}`),
            keyed(actual.defaultAcls, (d) => `${d.database}/${d.role}/${d.schema}/${d.objtype}`),
        ],
    ];
    for (const [what, want, got] of sections) {
        for (const [key, value] of want) {
            if (!got.has(key)) diffs.push(`missing ${what} ${key}: want ${value}`);
            else if (got.get(key) !== value) diffs.push(`${what} ${key}: want ${value}, got ${got.get(key)}`);
        }
        for (const [key, value] of got) if (!want.has(key)) diffs.push(`unexpected ${what} ${key}: ${value}`);
    }
    return diffs.length > limit ? [...diffs.slice(0, limit), `... and ${diffs.length - limit} more`] : diffs;
}

export const isEmpty = (c: Catalog) => c.roles.length === 0 && c.databases.length === 0;

/** Drops every non-system database and role: the clean slate between tools, if a tool left anything. */
export async function forceClean(pg: PgTarget): Promise<void> {
    const c = await snapshot(pg);
    await withClient(pg, "postgres", async (client) => {
        for (const d of c.databases) await client.query(`DROP DATABASE IF EXISTS "${d.name}" WITH (FORCE)`);
        for (const r of c.roles) await client.query(`DROP ROLE IF EXISTS "${r.name}"`);
    });
}
