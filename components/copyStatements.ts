/**
 * What the database copy (databaseCopy.ts) sends and runs, kept apart from
 * the code that decides when: the SQL it reads figures with, the pg_dump and
 * pg_restore arguments and environment, the restore list it filters, and the
 * comparison of the source's figures with the target's. All pure.
 */
import { quoteIdent } from "./adminConnection";

/** One side of a copy: a server, a database and who logs in. */
export interface CopyEndpoint {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    /** Secret: passed to the client tools in their environment, never on a command line. */
    readonly password: string;
    readonly database: string;
    /** libpq sslmode. @default "prefer" */
    readonly sslmode?: string;
    /** CA file (PEM) or `system`, as libpq's sslrootcert. @default none */
    readonly sslrootcert?: string;
    /** @default 10 */
    readonly connectTimeoutSeconds?: number;
}

/** Session settings both sides share, so every row prints the same text (as the backup runner's). */
export const FIGURES_SESSION_SQL = [
    "SET search_path = ''",
    "SET TimeZone = 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'postgres'",
    "SET extra_float_digits = 3",
    "SET bytea_output = 'hex'",
];

/** The app's tables (and populated materialized views), not those of extensions or the system. */
export const TABLES_SQL = `SELECT n.nspname AS schema, c.relname AS name
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE (c.relkind = 'r' OR (c.relkind = 'm' AND c.relispopulated))
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1, 2`;

/** The app's sequences, not those of extensions. */
export const SEQUENCES_SQL = `SELECT n.nspname AS schema, c.relname AS name
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1, 2`;

/** The extensions a database uses (plpgsql is in every database). */
export const EXTENSIONS_SQL = "SELECT extname AS name FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql' ORDER BY 1";

/** The extensions a server can create. */
export const AVAILABLE_EXTENSIONS_SQL = "SELECT name FROM pg_catalog.pg_available_extensions ORDER BY 1";

/** Large objects: how many, and an order-free sum of their contents' hashes. */
export const LARGE_OBJECTS_SQL = `SELECT count(*)::text AS count,
       coalesce(sum(('x' || substr(md5(pg_catalog.lo_get(oid)), 1, 16))::bit(64)::bigint), 0)::text AS checksum
  FROM pg_catalog.pg_largeobject_metadata`;

/**
 * What the app left in a database: its relations, functions and types outside
 * the system schemas, and its large objects. A new database has none.
 */
export const USER_OBJECTS_SQL = `SELECT
  (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)')
+ (SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))
+ (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata) AS objects`;

/** The schemas a database has, other than the system's. */
export const SCHEMAS_SQL = `SELECT nspname AS name FROM pg_catalog.pg_namespace
 WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname !~ '^pg_' ORDER BY 1`;

/** A table's row count and an order-free checksum of its rows (the backup manifest's figures). */
export function tableFiguresSql(schema: string, table: string): string {
    return (
        "SELECT count(*)::text AS rows, " +
        "coalesce(sum(('x' || substr(md5(app_databases_row::text), 1, 16))::bit(64)::bigint), 0)::text AS checksum " +
        `FROM ${quoteIdent(schema)}.${quoteIdent(table)} app_databases_row`
    );
}

/** A sequence's state. */
export function sequenceSql(schema: string, name: string): string {
    return `SELECT last_value::text AS "lastValue", is_called AS "isCalled" FROM ${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** The marker a copy leaves on the target database while it runs: only a target with it may be started over. */
export function copyMarker(source: Pick<CopyEndpoint, "host" | "port" | "database">): string {
    return `app-databases: copy of ${source.host}:${source.port}/${source.database} in progress`;
}

export function commentOnDatabaseSql(database: string, comment: string | null): string {
    const text = comment === null ? "NULL" : `'${comment.replace(/'/g, "''")}'`;
    return `COMMENT ON DATABASE ${quoteIdent(database)} IS ${text}`;
}

/** The environment the client tools reach one side with: the password stays out of the command line. */
export function libpqEnv(endpoint: CopyEndpoint, applicationName = "app-databases-copy"): Record<string, string> {
    return {
        PGHOST: endpoint.host,
        PGPORT: String(endpoint.port),
        PGUSER: endpoint.user,
        PGPASSWORD: endpoint.password,
        PGDATABASE: endpoint.database,
        PGSSLMODE: endpoint.sslmode ?? "prefer",
        ...(endpoint.sslrootcert ? { PGSSLROOTCERT: endpoint.sslrootcert } : {}),
        PGCONNECT_TIMEOUT: String(endpoint.connectTimeoutSeconds ?? 10),
        PGAPPNAME: applicationName,
    };
}

/**
 * pg_dump's arguments: the exported snapshot, no owners and no privileges
 * (the target's are the app's own roles), custom format, or directory format
 * with `jobs` workers when more than one.
 */
export function dumpArgs(snapshot: string, archive: string, jobs = 1): string[] {
    const format = jobs > 1 ? ["--format=directory", `--jobs=${jobs}`] : ["--format=custom"];
    return [`--snapshot=${snapshot}`, "--no-owner", "--no-privileges", "--no-password", ...format, `--file=${archive}`];
}

/**
 * The restore as one shell pipeline: pg_restore writes the script (every
 * object made as `ownerRole`, so the app's migrate role owns them and its
 * default privileges give the runtime roles theirs; in one transaction, so a
 * failure or a kill leaves the target as it was) and psql runs it, stopping
 * at the first error. pg_restore 17+ begins its script with `SET
 * transaction_timeout = 0`, which servers before 17 refuse: that line of the
 * header goes. Debian's 15.20 stamps every column with a `pg_attver` option
 * that pg_dump writes back (`ALTER COLUMN ... SET (pg_attver=...)`) and
 * other builds refuse ("unrecognized parameter"): those lines go too.
 * `clean`: drop what an earlier attempt of this copy left first.
 * The tools, archive, list and database are positional parameters, never
 * spliced into the script.
 */
export function restorePipeline(
    bin: string,
    archive: string,
    list: string,
    database: string,
    ownerRole: string,
    clean: boolean,
): { file: string; argv: string[] } {
    const restore = [
        "--no-owner",
        "--no-privileges",
        `--role=${ownerRole}`,
        "--single-transaction",
        ...(clean ? ["--clean", "--if-exists"] : []),
        `--use-list=${list}`,
        "--file=-",
        archive,
    ];
    const script =
        'set -o pipefail; bin=$1 database=$2; shift 2; "$bin/pg_restore" "$@" | ' +
        "sed -e '1,200{/^SET transaction_timeout = 0;$/d}' -e '/^ALTER TABLE ONLY .* ALTER COLUMN .* SET (pg_attver=[0-9]*);$/d' | " +
        '"$bin/psql" -X -q -v ON_ERROR_STOP=1 --no-password --dbname="$database" >/dev/null';
    return { file: "bash", argv: ["-c", script, "restore", bin, database, ...restore] };
}

/**
 * The restore list (`pg_restore --list`) with the entries the target has
 * already commented out: the schemas the tool made with the database (owned
 * by the migrate role, with their USAGE grants), and comments on extensions
 * (owned by whoever created them, not the migrate role).
 */
export function filterRestoreList(list: string, existingSchemas: readonly string[]): string {
    const skip = (line: string): boolean => {
        // "<id>; <oid> <oid> SCHEMA - <name> <owner>" and "<id>; 0 0 COMMENT - EXTENSION <name>"
        const schema = /^\d+;\s+\d+\s+\d+\s+SCHEMA\s+-\s+(\S+)/.exec(line);
        if (schema && existingSchemas.includes(schema[1])) return true;
        return /^\d+;\s+\d+\s+\d+\s+COMMENT\s+-\s+EXTENSION\s/.test(line);
    };
    return list
        .split("\n")
        .map((line) => (skip(line) ? `;${line}` : line))
        .join("\n");
}

/** The major version in `pg_dump --version` ("pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"). */
export function clientMajor(versionText: string): number {
    const m = /\(PostgreSQL\)\s+(\d+)/.exec(versionText);
    if (!m) throw new Error(`cannot read the client tools' version from ${JSON.stringify(versionText.trim())}`);
    return Number(m[1]);
}

/** A table's figures in a snapshot. */
export interface TableFigures {
    readonly schema: string;
    readonly table: string;
    readonly rows: number;
    readonly checksum: string;
}

export interface SequenceFigures {
    readonly schema: string;
    readonly name: string;
    readonly lastValue: string;
    readonly isCalled: boolean;
}

export interface LargeObjectFigures {
    readonly count: number;
    readonly checksum: string;
}

/** What one side holds: read on the source in the dump's snapshot, on the target after the restore. */
export interface DatabaseFigures {
    readonly tables: readonly TableFigures[];
    readonly sequences: readonly SequenceFigures[];
    readonly largeObjects: LargeObjectFigures;
}

/**
 * Where the target's figures differ from the source's, one line each (empty
 * when they agree). Sequences are not transactional: the source's are read
 * before and after the dump, and the target's must lie between.
 */
export function figureDifferences(
    source: DatabaseFigures,
    target: DatabaseFigures,
    sourceSequencesAfter: readonly SequenceFigures[] = source.sequences,
): string[] {
    const problems: string[] = [];
    const key = (t: { schema: string; table?: string; name?: string }) => `${t.schema}.${t.table ?? t.name}`;
    const theirs = new Map(target.tables.map((t) => [key(t), t]));
    for (const t of source.tables) {
        const other = theirs.get(key(t));
        if (!other) problems.push(`table ${key(t)} is missing on the target`);
        else if (other.rows !== t.rows) problems.push(`table ${key(t)}: ${t.rows} rows on the source, ${other.rows} on the target`);
        else if (other.checksum !== t.checksum)
            problems.push(`table ${key(t)}: checksums differ (${t.checksum} on the source, ${other.checksum} on the target)`);
        theirs.delete(key(t));
    }
    for (const extra of theirs.keys()) problems.push(`table ${extra} is on the target only`);
    const after = new Map(sourceSequencesAfter.map((s) => [key(s), s]));
    const targetSeqs = new Map(target.sequences.map((s) => [key(s), s]));
    for (const s of source.sequences) {
        const other = targetSeqs.get(key(s));
        const high = after.get(key(s)) ?? s;
        if (!other) {
            problems.push(`sequence ${key(s)} is missing on the target`);
            continue;
        }
        const low = BigInt(s.lastValue);
        const value = BigInt(other.lastValue);
        const within = value >= low && value <= BigInt(high.lastValue);
        if (!within || (low === BigInt(high.lastValue) && other.isCalled !== s.isCalled)) {
            problems.push(
                `sequence ${key(s)}: ${s.lastValue}${s.isCalled ? "" : " (not called)"} on the source, ${other.lastValue}${other.isCalled ? "" : " (not called)"} on the target`,
            );
        }
        targetSeqs.delete(key(s));
    }
    for (const extra of targetSeqs.keys()) problems.push(`sequence ${extra} is on the target only`);
    if (source.largeObjects.count !== target.largeObjects.count || source.largeObjects.checksum !== target.largeObjects.checksum) {
        problems.push(
            `large objects: ${source.largeObjects.count} (checksum ${source.largeObjects.checksum}) on the source, ` +
                `${target.largeObjects.count} (checksum ${target.largeObjects.checksum}) on the target`,
        );
    }
    return problems;
}

/** The extensions the source uses that the target server cannot create. */
export function missingExtensions(used: readonly string[], available: readonly string[]): string[] {
    return used.filter((e) => !available.includes(e));
}
