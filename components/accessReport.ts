/**
 * The access report of one server, read from its catalogs: which login role
 * can connect to which database, which roles are superusers or may create
 * roles, the databases whose PUBLIC still has CONNECT, the tables in an app's
 * database that its migrate role does not own, each role's live
 * connections against its limit, and who besides the superusers holds ADMIN
 * OPTION on a login role (a CREATEROLE admin on 16+ gets it on every role it creates).
 *
 * "Can connect" is what the server would allow past pg_hba: the CONNECT
 * privilege (superusers have every one), a role that may log in, and a
 * CONNECTION LIMIT other than 0.
 */
import * as pulumi from "@pulumi/pulumi";
import { AdminConnection, withAdminClient } from "./adminConnection";
import { adminOptionsQuery, connectMatrixQuery, databasesQuery, foreignObjectsQuery, loginRolesQuery } from "./sql/catalog";

/** A login role and what it may do server-wide. */
export interface AccessRole {
    readonly name: string;
    readonly superuser: boolean;
    readonly createRole: boolean;
    readonly createDb: boolean;
    /** -1 is no limit. */
    readonly connectionLimit: number;
    /** Sessions open now (left out of the stack output: it changes by the minute). */
    readonly liveConnections?: number;
}

/** An object in an app's database that its migrate role does not own. */
export interface ForeignObject {
    readonly database: string;
    readonly schema: string;
    readonly name: string;
    readonly kind: string;
    readonly owner: string;
    readonly expectedOwner: string;
}

/**
 * A role's ADMIN OPTION held by a non-superuser: it may grant the role, alter
 * it, drop it. On PostgreSQL 16+ a CREATEROLE admin gets it on every role it
 * creates (without INHERIT or SET, so it cannot use the role's privileges).
 */
export interface AdminOption {
    readonly role: string;
    readonly heldBy: string;
    /** Whether the holder may also use the role's privileges (INHERIT or SET). */
    readonly usable: boolean;
}

export interface AccessReport {
    readonly server: string;
    readonly roles: readonly AccessRole[];
    /** Databases that accept connections, templates aside. */
    readonly databases: readonly string[];
    /** Per login role, the databases it can connect to. */
    readonly canConnect: Readonly<Record<string, readonly string[]>>;
    /** Databases where PUBLIC still has CONNECT: every login role may connect there. */
    readonly publicConnect: readonly string[];
    readonly foreignObjects: readonly ForeignObject[];
    /** ADMIN OPTION on login roles held by non-superusers; left out when there is none. */
    readonly adminOptions?: readonly AdminOption[];
}

/** An app's database and the role that should own everything in it. */
export interface OwnedDatabase {
    readonly database: string;
    readonly owner: string;
}

export interface AccessReportOptions {
    /** Count each role's open sessions. @default true */
    readonly liveConnections?: boolean;
}

const KINDS: Readonly<Record<string, string>> = {
    r: "table",
    p: "partitioned table",
    v: "view",
    m: "materialized view",
    S: "sequence",
    f: "foreign table",
};

/** What one session to the maintenance database reads: roles, databases, who can connect where, ADMIN OPTIONs. */
interface ServerCatalog {
    readonly roles: readonly {
        rolname: string;
        rolsuper: boolean;
        rolcreaterole: boolean;
        rolcreatedb: boolean;
        rolconnlimit: number;
        live: number;
    }[];
    readonly databases: readonly { datname: string; public_connect: boolean }[];
    readonly matrix: readonly { rolname: string; datname: string }[];
    readonly admins: readonly { role: string; held_by: string; usable: boolean }[];
}

function readServerCatalog(connection: AdminConnection): Promise<ServerCatalog> {
    return withAdminClient(connection, async (client) => {
        const roles = await client.query<ServerCatalog["roles"][number]>(loginRolesQuery());
        const databases = await client.query<ServerCatalog["databases"][number]>(databasesQuery());
        const matrix = await client.query<ServerCatalog["matrix"][number]>(connectMatrixQuery());
        const admins = await client.query<ServerCatalog["admins"][number]>(adminOptionsQuery());
        return { roles: roles.rows, databases: databases.rows, matrix: matrix.rows, admins: admins.rows };
    });
}

/** The objects in an app's database that its migrate role does not own: one session in that database. */
async function readForeignObjects(connection: AdminConnection, { database, owner }: OwnedDatabase): Promise<ForeignObject[]> {
    const rows = await withAdminClient(
        connection,
        async (client) =>
            (await client.query<{ nspname: string; relname: string; relkind: string; owner: string }>(foreignObjectsQuery(owner))).rows,
        database,
    );
    return rows.map((r) => ({
        database,
        schema: r.nspname,
        name: r.relname,
        kind: KINDS[r.relkind] ?? r.relkind,
        owner: r.owner,
        expectedOwner: owner,
    }));
}

/**
 * The report from the server catalog and, for each owned database that the
 * server still holds, its foreign objects (`objectsOf`, by position in `owned`):
 * a database gone from the server is left out.
 */
async function reportOf(
    server: string,
    base: ServerCatalog,
    owned: readonly OwnedDatabase[],
    objectsOf: (db: OwnedDatabase, index: number) => Promise<readonly ForeignObject[]>,
    options: AccessReportOptions,
): Promise<AccessReport> {
    const existing = new Set(base.databases.map((d) => d.datname));
    const foreignObjects: ForeignObject[] = [];
    for (const [i, db] of owned.entries()) {
        if (existing.has(db.database)) foreignObjects.push(...(await objectsOf(db, i)));
    }
    const canConnect: Record<string, string[]> = Object.fromEntries(base.roles.map((r) => [r.rolname, []]));
    for (const m of base.matrix) canConnect[m.rolname]?.push(m.datname);
    return {
        server,
        roles: base.roles.map((r) => ({
            name: r.rolname,
            superuser: r.rolsuper,
            createRole: r.rolcreaterole,
            createDb: r.rolcreatedb,
            connectionLimit: r.rolconnlimit,
            ...(options.liveConnections === false ? {} : { liveConnections: r.live }),
        })),
        databases: base.databases.map((d) => d.datname),
        canConnect,
        publicConnect: base.databases.filter((d) => d.public_connect).map((d) => d.datname),
        foreignObjects,
        ...(base.admins.length > 0
            ? { adminOptions: base.admins.map((a) => ({ role: a.role, heldBy: a.held_by, usable: a.usable })) }
            : {}),
    };
}

/** Reads a server's access report as its admin: one session, and one more per app database that exists. */
export async function readAccessReport(
    server: string,
    connection: AdminConnection,
    owned: readonly OwnedDatabase[],
    options: AccessReportOptions = {},
): Promise<AccessReport> {
    const base = await readServerCatalog(connection);
    return reportOf(server, base, owned, (db) => readForeignObjects(connection, db), options);
}

/** The report for a terminal: the roles with their flags and sessions, the role x database matrix, then the findings. */
export function formatAccessReport(report: AccessReport): string {
    const width = Math.max(4, ...report.roles.map((r) => r.name.length));
    const flags = (r: AccessRole) =>
        [r.superuser ? "SUPERUSER" : "", r.createRole ? "CREATEROLE" : "", r.createDb ? "CREATEDB" : ""].filter(Boolean).join(",");
    const limit = (r: AccessRole) => (r.connectionLimit < 0 ? "none" : String(r.connectionLimit));
    const live = (r: AccessRole) => (r.liveConnections === undefined ? "" : `${r.liveConnections}/${limit(r)}`);
    const cols = report.databases.map((d) => Math.max(d.length, 3));
    const header = `  ${"role".padEnd(width)}  ${"flags".padEnd(29)}  ${"conns/limit".padStart(11)}  ${report.databases.map((d, i) => d.padEnd(cols[i])).join("  ")}`;
    const rows = report.roles.map((r) => {
        const can = new Set(report.canConnect[r.name] ?? []);
        const cells = report.databases.map((d, i) => (can.has(d) ? "yes" : "-").padEnd(cols[i])).join("  ");
        const over = r.liveConnections !== undefined && r.connectionLimit >= 0 && r.liveConnections >= r.connectionLimit ? "!" : " ";
        return `${over} ${r.name.padEnd(width)}  ${flags(r).padEnd(29)}  ${live(r).padStart(11)}  ${cells}`.trimEnd();
    });
    const findings = [
        report.publicConnect.length > 0
            ? `PUBLIC still has CONNECT on: ${report.publicConnect.join(", ")} (every login role may connect there)`
            : "PUBLIC has CONNECT on no database",
        ...(report.foreignObjects.length > 0
            ? report.foreignObjects.map(
                  (o) =>
                      `${o.database}: ${o.kind} ${o.schema}.${o.name} is owned by ${o.owner}, not ${o.expectedOwner} (ALTER ... OWNER TO ${o.expectedOwner})`,
              )
            : ["every object in the app databases is owned by its app's migrate role"]),
        ...(report.adminOptions ?? []).map(
            (a) =>
                `${a.heldBy} holds ADMIN OPTION on ${a.role}: it may grant, alter or drop it` +
                (a.usable
                    ? " and use its privileges"
                    : "; it cannot use its privileges (no INHERIT, no SET: PostgreSQL 16's CREATEROLE default)"),
        ),
    ];
    return [
        `Access on server ${report.server}: ${report.roles.length} login roles x ${report.databases.length} databases (yes = can connect)`,
        header.trimEnd(),
        ...rows,
        ...findings.map((f) => `  * ${f}`),
    ].join("\n");
}

/** The stack output of a server when it was not read. */
export interface AccessReportNotRead {
    readonly server: string;
    readonly notRead: string;
}

/**
 * A server's access report as a stack output, read once the apps' CONNECT
 * lock-downs (`lockDowns`, by database) exist, without the live connections
 * (they would change the output on every run). With `read: false` (a preview
 * that must not reach servers) it says so instead.
 *
 * A database is read in a session of its own. In a preview, where the
 * providers open no session and nothing changes, each one is read from the
 * start, while the program is still declaring and mostly waits for the engine:
 * at 100 apps the reads took the last second of the preview when they came
 * after every lock-down, and 0.8 s of 8.6 when each waited for its own. In an up they
 * come after all of them, so this one session never runs beside the providers' pool.
 */
export function accessReportOutput(
    server: string,
    connection: pulumi.Output<AdminConnection>,
    owned: readonly OwnedDatabase[],
    lockDowns: Readonly<Record<string, pulumi.CustomResource>>,
    read: boolean,
): pulumi.Output<AccessReport | AccessReportNotRead> {
    if (!read) return pulumi.output({ server, notRead: "preflight is off: this preview does not reach the servers" });
    const afterAll = pulumi.all([connection, pulumi.all(Object.values(lockDowns).map((r) => r.id))]);
    const readOne = (c: AdminConnection, db: OwnedDatabase) =>
        readForeignObjects(c, db).then(
            (objects) => ({ objects }),
            (err: Error) => ({ error: err.message }),
        );
    const early = pulumi.runtime.isDryRun();
    const perDatabase = owned.map((db) => {
        const lockDown = lockDowns[db.database];
        if (!early || !lockDown) return afterAll.apply(([c]) => readOne(c, db));
        // A preview changes nothing on the server: the read starts at once and counts once
        // the lock-down is known (a database still to be made has nothing to report).
        return pulumi.all([connection.apply((c) => readOne(c, db)), lockDown.id]).apply(([found]) => found);
    });
    return pulumi.unsecret(
        pulumi.all([afterAll, pulumi.all(perDatabase)]).apply(async ([[c], found]) => {
            try {
                const base = await readServerCatalog(c);
                return await reportOf(
                    server,
                    base,
                    owned,
                    // A database whose read failed makes the whole report "not read", with that error.
                    async (_, i) => {
                        const result = found[i];
                        if ("error" in result) throw new Error(result.error);
                        return result.objects;
                    },
                    { liveConnections: false },
                );
            } catch (err) {
                return { server, notRead: (err as Error).message };
            }
        }),
    );
}
