/**
 * copyDatabase: one database's data from one server into a new database on
 * another, verified. The engine of a move between placements (DataMove) and
 * of a dedicated app's upgrade by dump and restore.
 *
 * 1. Checks before anything is copied: the client tools are of a major at
 *    least the servers', the target server has every extension the source
 *    database uses, and the target database is empty (or holds only what an
 *    earlier, unfinished attempt of this copy left: its marker says so).
 * 2. Dumps the source in one consistent snapshot, exported by a REPEATABLE
 *    READ transaction that also reads every table's row count and checksum,
 *    the sequences and the large objects: the figures are the dump's own.
 * 3. Restores as `ownerRole` (no foreign owners or privileges: the app's
 *    default privileges give its roles theirs) in one transaction, then ANALYZE.
 * 4. Reads the same figures on the target and compares them; any difference
 *    fails the copy, naming it.
 *
 * It runs where the client tools are (`clientBin`), in the dynamic provider's
 * process or a script; `pg` is required lazily so the provider loads fast.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Client } from "pg";
import { quoteIdent, sslOption, tlsAttempts } from "./adminConnection";
import {
    AVAILABLE_EXTENSIONS_SQL,
    clientMajor,
    commentOnDatabaseSql,
    copyMarker,
    CopyEndpoint,
    DatabaseFigures,
    dumpArgs,
    EXTENSIONS_SQL,
    figureDifferences,
    FIGURES_SESSION_SQL,
    filterRestoreList,
    LARGE_OBJECTS_SQL,
    libpqEnv,
    missingExtensions,
    restorePipeline,
    SCHEMAS_SQL,
    SequenceFigures,
    sequenceSql,
    SEQUENCES_SQL,
    TableFigures,
    tableFiguresSql,
    TABLES_SQL,
    USER_OBJECTS_SQL,
} from "./copyStatements";

export type { CopyEndpoint, DatabaseFigures, TableFigures, SequenceFigures } from "./copyStatements";

export interface CopyDatabaseArgs {
    /** The database copied from; its user must read every object (a superuser, or the app's migrate role). */
    readonly source: CopyEndpoint;
    /** The new database, made empty beforehand; its user must be a superuser or a member of `ownerRole`. */
    readonly target: CopyEndpoint;
    /** The role that owns what the restore makes: the app's migrate role. */
    readonly ownerRole: string;
    /** The directory holding pg_dump and pg_restore, of a major at least both servers'. */
    readonly clientBin: string;
    /**
     * The role owning the source's objects (the app's migrate role there): a
     * source user that is not a superuser is made a member of it for the copy,
     * and given it back after. @default none: the source user reads everything
     */
    readonly sourceOwnerRole?: string;
    /** pg_dump workers (directory format) when more than 1. @default 1 */
    readonly jobs?: number;
    /**
     * Runs once every check has passed, just before the snapshot is taken:
     * where a move blocks the app's writers (DataMove's cutover). @default none
     */
    readonly beforeSnapshot?: () => Promise<void>;
    /** Progress lines. @default none */
    readonly log?: (line: string) => void;
}

/** What a copy did and found; no secrets. */
export interface CopyReport {
    readonly source: { readonly host: string; readonly port: number; readonly database: string; readonly serverVersionNum: number };
    readonly target: { readonly host: string; readonly port: number; readonly database: string; readonly serverVersionNum: number };
    /** The source database's size in bytes (pg_database_size) at the snapshot. */
    readonly sourceBytes: number;
    /** The archive's size in bytes. */
    readonly archiveBytes: number;
    readonly extensions: readonly string[];
    /** The source's figures in the dump's snapshot; the target's equal them. */
    readonly figures: DatabaseFigures;
    readonly tableCount: number;
    readonly rowCount: number;
    /** Whether the target held an unfinished earlier attempt of this copy, dropped first. */
    readonly startedOver: boolean;
    readonly durationMs: number;
    /** "verified": counts, checksums, sequences and large objects equal. */
    readonly verification: "verified";
}

/** A copy refused before anything was copied: the target is as it was. */
export class CopyRefused extends Error {}

const MARKER_SQL =
    "SELECT pg_catalog.shobj_description(oid, 'pg_database') AS comment FROM pg_catalog.pg_database WHERE datname = current_database()";

/** Copies `source` into `target`, verifies it, and reports; throws naming what went wrong. */
export async function copyDatabase(args: CopyDatabaseArgs): Promise<CopyReport> {
    const started = Date.now();
    const log = args.log ?? (() => undefined);
    const { source, target } = args;
    const where = (e: CopyEndpoint) => `${e.host}:${e.port}/${e.database}`;
    const jobs = args.jobs ?? 1;
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)
        throw new CopyRefused(`copyDatabase: \`jobs\` expected an integer from 1 to 64, got ${jobs}`);

    const tools = await clientToolsMajor(args.clientBin);
    const src = await connect(source);
    const dst = await connect(target).catch(async (err) => {
        await src.end();
        throw err;
    });
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-copy-"));
    const releases: (() => Promise<void>)[] = [];
    try {
        const [srcVersion, dstVersion] = [await versionNum(src), await versionNum(dst)];
        for (const [side, v] of [
            ["source", srcVersion],
            ["target", dstVersion],
        ] as const) {
            if (Math.floor(v / 10000) > tools) {
                throw new CopyRefused(
                    `the client tools in ${args.clientBin} are PostgreSQL ${tools}, older than the ${side} server (${Math.floor(v / 10000)}): ` +
                        "pg_dump and pg_restore must be of a major at least both servers'; nothing was copied",
                );
            }
        }
        const extensions = (await src.query<{ name: string }>(EXTENSIONS_SQL)).rows.map((r) => r.name);
        const available = (await dst.query<{ name: string }>(AVAILABLE_EXTENSIONS_SQL)).rows.map((r) => r.name);
        const missing = missingExtensions(extensions, available);
        if (missing.length > 0) {
            throw new CopyRefused(
                `the target server ${target.host}:${target.port} lacks the extension${missing.length > 1 ? "s" : ""} ${missing.join(", ")} ` +
                    `that database ${source.database} uses on ${source.host}:${source.port}: install ${missing.length > 1 ? "their packages" : "its package"} ` +
                    "on the target server (or drop it from the app), then run again; nothing was copied",
            );
        }
        const startedOver = await checkTargetEmpty(dst, target, source);
        releases.push(await borrowRole(dst, args.ownerRole));
        if (args.sourceOwnerRole) releases.push(await borrowRole(src, args.sourceOwnerRole));
        await dst.query(commentOnDatabaseSql(target.database, copyMarker(source)));

        await args.beforeSnapshot?.();
        // The snapshot: pg_dump reads in it, and so do the figures, while this transaction stays open.
        for (const sql of FIGURES_SESSION_SQL) await src.query(sql);
        await src.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        const snapshot = (await src.query<{ id: string }>("SELECT pg_catalog.pg_export_snapshot() AS id")).rows[0].id;
        const sourceBytes = Number(
            (await src.query<{ n: string }>("SELECT pg_catalog.pg_database_size(current_database())::text AS n")).rows[0].n,
        );
        const archive = path.join(work, jobs > 1 ? "archive.dir" : "archive.dump");
        log(`dumping ${where(source)} (${sourceBytes} bytes) in snapshot ${snapshot}`);
        const [, figures] = await Promise.all([
            run(path.join(args.clientBin, "pg_dump"), dumpArgs(snapshot, archive, jobs), libpqEnv(source)),
            readFigures(src),
        ]);
        const sequencesAfter = await readSequences(src);
        await src.query("COMMIT");

        const listFile = path.join(work, "restore.list");
        const list = await run(path.join(args.clientBin, "pg_restore"), ["--list", archive], {});
        const schemas = (await dst.query<{ name: string }>(SCHEMAS_SQL)).rows.map((r) => r.name);
        fs.writeFileSync(listFile, filterRestoreList(list, schemas));
        log(`restoring into ${where(target)} as ${args.ownerRole}${startedOver ? " (dropping an unfinished earlier attempt first)" : ""}`);
        const restore = restorePipeline(args.clientBin, archive, listFile, target.database, args.ownerRole, startedOver);
        await run(restore.file, restore.argv, libpqEnv(target));
        await dst.query("ANALYZE");

        for (const sql of FIGURES_SESSION_SQL) await dst.query(sql);
        const copied = await readFigures(dst);
        const differences = figureDifferences(figures, copied, sequencesAfter);
        if (differences.length > 0) {
            throw new Error(
                `the copy of ${where(source)} into ${where(target)} does not match its snapshot: ${differences.slice(0, 10).join("; ")}` +
                    (differences.length > 10 ? `; and ${differences.length - 10} more` : ""),
            );
        }
        await dst.query(commentOnDatabaseSql(target.database, null));
        const report: CopyReport = {
            source: { host: source.host, port: source.port, database: source.database, serverVersionNum: srcVersion },
            target: { host: target.host, port: target.port, database: target.database, serverVersionNum: dstVersion },
            sourceBytes,
            archiveBytes: sizeOf(archive),
            extensions,
            figures,
            tableCount: figures.tables.length,
            rowCount: figures.tables.reduce((sum, t) => sum + t.rows, 0),
            startedOver,
            durationMs: Date.now() - started,
            verification: "verified",
        };
        log(`copied ${report.tableCount} tables, ${report.rowCount} rows: counts, checksums, sequences and large objects verified`);
        return report;
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
        for (const release of releases.reverse()) await release().catch(() => undefined);
        await Promise.allSettled([src.end(), dst.end()]);
    }
}

/**
 * Whether the target holds an earlier attempt of this copy to start over from
 * (true), or nothing (false); refuses a target with anything else in it.
 */
async function checkTargetEmpty(dst: Client, target: CopyEndpoint, source: CopyEndpoint): Promise<boolean> {
    const objects = Number((await dst.query<{ objects: string }>(USER_OBJECTS_SQL)).rows[0].objects);
    if (objects === 0) return false;
    const marker = (await dst.query<{ comment: string | null }>(MARKER_SQL)).rows[0]?.comment;
    if (marker === copyMarker(source)) return true;
    throw new CopyRefused(
        `the target database ${target.database} on ${target.host}:${target.port} is not empty (${objects} objects) and did not come ` +
            `from an unfinished copy of ${source.host}:${source.port}/${source.database}: it is left as it is and nothing was copied; ` +
            "copy into a new, empty database",
    );
}

/**
 * Makes the session's user a member of `role` unless it is a superuser or one
 * already (a non-superuser admin: RDS, PostgreSQL 16 CREATEROLE); the returned
 * function gives the membership back.
 */
async function borrowRole(client: Client, role: string): Promise<() => Promise<void>> {
    const { rows } = await client.query<{ member: boolean }>(
        "SELECT rolsuper OR pg_has_role(current_user, $1, 'USAGE') AS member FROM pg_catalog.pg_roles WHERE rolname = current_user",
        [role],
    );
    if (rows[0]?.member) return async () => undefined;
    await client.query(`GRANT ${quoteIdent(role)} TO CURRENT_USER`);
    return async () => {
        await client.query("ROLLBACK").catch(() => undefined);
        await client.query(`REVOKE ${quoteIdent(role)} FROM CURRENT_USER`);
    };
}

async function readFigures(client: Client): Promise<DatabaseFigures> {
    const tables: TableFigures[] = [];
    for (const { schema, name } of (await client.query<{ schema: string; name: string }>(TABLES_SQL)).rows) {
        const row = (await client.query<{ rows: string; checksum: string }>(tableFiguresSql(schema, name))).rows[0];
        tables.push({ schema, table: name, rows: Number(row.rows), checksum: row.checksum });
    }
    const lo = (await client.query<{ count: string; checksum: string }>(LARGE_OBJECTS_SQL)).rows[0];
    return { tables, sequences: await readSequences(client), largeObjects: { count: Number(lo.count), checksum: lo.checksum } };
}

async function readSequences(client: Client): Promise<SequenceFigures[]> {
    const sequences: SequenceFigures[] = [];
    for (const { schema, name } of (await client.query<{ schema: string; name: string }>(SEQUENCES_SQL)).rows) {
        const row = (await client.query<{ lastValue: string; isCalled: boolean }>(sequenceSql(schema, name))).rows[0];
        sequences.push({ schema, name, lastValue: row.lastValue, isCalled: row.isCalled });
    }
    return sequences;
}

const versionNum = async (client: Client): Promise<number> =>
    Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0].v);

/** The major of the client tools in `bin`, read from pg_dump and pg_restore. */
async function clientToolsMajor(bin: string): Promise<number> {
    const majors: number[] = [];
    for (const tool of ["pg_dump", "pg_restore", "psql"]) {
        const file = path.join(bin, tool);
        if (!fs.existsSync(file))
            throw new CopyRefused(`no ${tool} in ${bin}: the copy needs PostgreSQL's client tools there; nothing was copied`);
        majors.push(clientMajor(await run(file, ["--version"], {})));
    }
    return Math.min(...majors);
}

/** A session to one side, with libpq's sslmode attempts. */
async function connect(endpoint: CopyEndpoint): Promise<Client> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pg = require("pg") as typeof import("pg");
    const failures: string[] = [];
    const sslmode = endpoint.sslmode ?? "prefer";
    for (const attempt of tlsAttempts(sslmode, endpoint.sslrootcert)) {
        const client = new pg.Client({
            host: endpoint.host,
            port: endpoint.port,
            user: endpoint.user,
            password: endpoint.password,
            database: endpoint.database,
            ssl: sslOption(attempt, { sslrootcert: endpoint.sslrootcert }),
            connectionTimeoutMillis: (endpoint.connectTimeoutSeconds ?? 10) * 1000,
            application_name: "app-databases-copy",
        });
        try {
            await client.connect();
            return client;
        } catch (err) {
            failures.push(`${attempt}: ${(err as Error).message}`);
        }
    }
    throw new Error(
        `cannot connect to ${endpoint.host}:${endpoint.port}/${endpoint.database} as ${endpoint.user}: ${failures.join("; ")} (sslmode ${sslmode})`,
    );
}

/** Runs a client tool with `env` on top of a clean environment; resolves to its stdout, rejects with its stderr. */
function run(file: string, argv: readonly string[], env: Record<string, string>): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, argv, {
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", ...env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on("data", (d: Buffer) => out.push(d));
        child.stderr.on("data", (d: Buffer) => err.push(d));
        child.on("error", reject);
        child.on("close", (code, signal) => {
            if (code === 0) return resolve(Buffer.concat(out).toString("utf8"));
            const stderr = Buffer.concat(err).toString("utf8").trim();
            reject(new Error(`${path.basename(file)} failed (${signal ?? `exit ${code}`}): ${stderr.slice(0, 2000)}`));
        });
    });
}

function sizeOf(file: string): number {
    const stat = fs.statSync(file);
    if (!stat.isDirectory()) return stat.size;
    return fs.readdirSync(file).reduce((sum, f) => sum + fs.statSync(path.join(file, f)).size, 0);
}
