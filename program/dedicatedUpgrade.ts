/**
 * A dedicated app's major-version change, with its data.
 *
 * `planVolumes` (pure) reads what the engine holds and the configured major
 * and says which data volume the server runs on: the same one; a new one an
 * upgrade fills by dump and restore (`<volume>-<major>`), the old one kept as
 * the rollback; a kept volume of the configured major (a rollback); or a
 * refusal (a downgrade, a target volume that holds data nobody asked to drop).
 *
 * `upgradeDedicated` does the copy during `up`, before anything is declared,
 * while the old container keeps serving: a staging container of the new major
 * on the new volume (no published port), the roles with their password hashes,
 * each database by copyDatabase (one snapshot, restored as its owner, ANALYZE,
 * rows and checksums verified), the privileges the copy leaves out, and the
 * old server's pg_hba.conf; then the staging container goes and the engine
 * replaces the old container by one of the new major on the new volume (same
 * name, port, outputs and passwords). A failure anywhere before that removes
 * the staging container and the new volume, and leaves the old container
 * serving and the outputs as they were.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Client } from "pg";
import { copyDatabase, CopyEndpoint } from "../components/databaseCopy";
import { dedicatedLabels, PGDATA, UPGRADE_MARKER, volumeForMajor } from "../components/dedicatedServer";
import { DedicatedEngineNames, DedicatedLive, readDedicatedLive, readVolumeContents, VolumeContents } from "./dedicatedLive";
import { findClientBin, INSTALL_CLIENT_TOOLS } from "./clientTools";
import {
    ContainerFacts,
    createVolume,
    execInContainer,
    inspectContainer,
    removeContainer,
    removeVolume,
    runContainer,
    stopContainer,
} from "./dockerEngine";

/** A version's major: "17" of "17" or "17.2". */
export const majorOf = (version: string): string => version.split(".")[0];

export type VolumePlan =
    /** The server runs on `volume` as it is. */
    | { readonly kind: "serve"; readonly volume: string; readonly kept: readonly string[] }
    /** The data of `fromMajor` on `from` is copied into a new server of `toMajor` on `to`; `from` is kept. */
    | {
          readonly kind: "upgrade";
          readonly from: string;
          readonly fromMajor: string;
          readonly to: string;
          readonly toMajor: string;
          readonly kept: readonly string[];
          /** `to` holds an earlier attempt that never served: removed first. */
          readonly startOver: boolean;
      }
    /** Back to `to`, a kept volume of the configured major; `from` (the newer major's data) is kept. */
    | {
          readonly kind: "rollback";
          readonly from: string;
          readonly fromMajor: string;
          readonly to: string;
          readonly toMajor: string;
          readonly kept: readonly string[];
      }
    | { readonly kind: "refused"; readonly problem: string };

/** The volumes whose contents planVolumes needs beyond the serving one's: none unless the major changes. */
export function volumesToRead(live: DedicatedLive, major: string): string[] {
    const data = live.dataMajor;
    if (!live.volumeExists || data === undefined || data === "none" || data === major) return [];
    return live.volumes.filter((v) => v !== live.volume);
}

/** Where the data of `n`'s server lives once the configured `major` is applied; pure. */
export function planVolumes(
    n: DedicatedEngineNames,
    live: DedicatedLive,
    major: string,
    contents: Readonly<Record<string, VolumeContents | undefined>>,
): VolumePlan {
    const at = `apps.${n.app}.dedicated.version`;
    const others = (current: string) => live.volumes.filter((v) => v !== current);
    const from = live.volume;
    const data = live.dataMajor;
    if (!live.volumeExists || data === undefined || data === "none" || data === major) {
        return { kind: "serve", volume: from, kept: others(from) };
    }
    if (Number(major) > Number(data)) {
        const to = volumeForMajor(n.volume, major);
        const there = live.volumes.includes(to) ? contents[to] : undefined;
        if (live.volumes.includes(to) && !(there?.upgradeUnfinished || there?.dataMajor === "none")) {
            return {
                kind: "refused",
                problem:
                    `${at} is "${major}": the upgrade from PostgreSQL ${data} (volume ${from}) would copy the data into volume ${to}, ` +
                    `which exists already and holds ${there?.dataMajor ? `a PostgreSQL ${there.dataMajor} data directory` : "data no image here can read"} ` +
                    `that does not serve (an upgrade that was rolled back, or one that was copied but not cut over). Nothing was applied; ` +
                    `the running container is left as it is. If you do not need what ${to} holds, remove it (docker volume rm ${to}) and run again; ` +
                    `or keep ${at} "${data}"`,
            };
        }
        return {
            kind: "upgrade",
            from,
            fromMajor: data,
            to,
            toMajor: major,
            kept: [...new Set([...others(to), from])].sort(),
            startOver: live.volumes.includes(to),
        };
    }
    const back = [volumeForMajor(n.volume, major), n.volume].find(
        (v) => v !== from && live.volumes.includes(v) && contents[v]?.dataMajor === major && !contents[v]?.upgradeUnfinished,
    );
    if (back) return { kind: "rollback", from, fromMajor: data, to: back, toMajor: major, kept: others(back) };
    return {
        kind: "refused",
        problem:
            `${at} is "${major}" but the server's data (volume ${from}) is PostgreSQL ${data}: a downgrade is refused. ` +
            `PostgreSQL ${major} cannot start on a data directory ${data} wrote, and a dump of ${data} may use what ${major} lacks, ` +
            `so the tool does not carry data to an older major${live.volumes.length > 1 ? ` (no kept volume holds PostgreSQL ${major} data to roll back to)` : ""}. ` +
            `Nothing was applied; the running container is left as it is. Keep ${at} "${data}"`,
    };
}

const plans = new Map<string, Promise<{ live: DedicatedLive; plan: VolumePlan }>>();

/**
 * The server as it is and its plan for the configured `major`, once per
 * program run (the preflight and the state read share it): the other volumes
 * are read only when the major changes.
 */
export function readDedicatedPlan(
    n: DedicatedEngineNames,
    image: string,
    major: string,
): Promise<{ live: DedicatedLive; plan: VolumePlan }> {
    const key = `${n.container}\0${image}\0${major}`;
    let read = plans.get(key);
    if (!read) {
        read = (async () => {
            const live = await readDedicatedLive(n, image, major);
            const images = live.container ? [live.container.image, image] : [image];
            const contents: Record<string, VolumeContents | undefined> = {};
            for (const v of volumesToRead(live, major)) contents[v] = await readVolumeContents(v, images);
            // A staging container left behind (the process was killed) marks its volume as never served.
            const target = volumeForMajor(n.volume, major);
            if (live.volumes.includes(target) && (await inspectContainer(stagingName(n)))) {
                contents[target] = { ...contents[target], upgradeUnfinished: true };
            }
            return { live, plan: planVolumes(n, live, major, contents) };
        })();
        plans.set(key, read);
        read.catch(() => plans.delete(key));
    }
    return read;
}

/** Forgets the plans read (after the program changed the engine). */
export function forgetDedicatedPlans(): void {
    plans.clear();
}

/** What the preview says of a planned upgrade or rollback. */
export function planMessage(n: DedicatedEngineNames, plan: VolumePlan, sizeBytes?: number): string | undefined {
    const server = `dedicated server of app ${n.app}`;
    if (plan.kind === "upgrade") {
        const size = sizeBytes === undefined ? "" : `, ${formatBytes(sizeBytes)}`;
        return (
            `${server}: apps.${n.app}.dedicated.version "${plan.toMajor}" upgrades its data from PostgreSQL ${plan.fromMajor} (volume ${plan.from}${size}): ` +
            `the up copies it by dump and restore into a PostgreSQL ${plan.toMajor} server on a new volume ${plan.to} while ${n.container} keeps serving, ` +
            `checks every table's rows and checksum, then replaces ${n.container} by a PostgreSQL ${plan.toMajor} container on ${plan.to} ` +
            `(same host port, outputs and passwords). Writes made during the copy are not carried: stop the app's writers first. ` +
            `Volume ${plan.from} is kept as the rollback (README: "Changing a dedicated server's major version").` +
            (plan.startOver ? ` Volume ${plan.to} holds an unfinished earlier attempt: it is made again.` : "")
        );
    }
    if (plan.kind === "rollback") {
        return (
            `${server}: apps.${n.app}.dedicated.version "${plan.toMajor}" rolls back to volume ${plan.to} (PostgreSQL ${plan.toMajor}, the data as the upgrade copied it): ` +
            `${n.container} is replaced by a PostgreSQL ${plan.toMajor} container on it. Writes made since the upgrade stay in volume ${plan.from} (PostgreSQL ${plan.fromMajor}), which is kept.`
        );
    }
    return undefined;
}

const formatBytes = (n: number) => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : `${Math.max(1, Math.round(n / (1 << 20)))} MiB`);

/** Room the new data directory needs beside the old one: its size, plus a margin for WAL and the restore's indexes. */
export const UPGRADE_SPACE_FACTOR = 1.5;
const UPGRADE_SPACE_MARGIN_BYTES = 64 << 20;

/** The refusal of an upgrade the Docker data root has no room for; undefined when it fits. */
export function diskProblem(app: string, dataBytes: number, freeBytes: number, volume: string): string | undefined {
    const needed = Math.ceil(dataBytes * UPGRADE_SPACE_FACTOR) + UPGRADE_SPACE_MARGIN_BYTES;
    if (freeBytes >= needed) return undefined;
    return (
        `apps.${app}.dedicated.version: the upgrade needs about ${formatBytes(needed)} free where Docker keeps its volumes ` +
        `(the data directory on ${volume} is ${formatBytes(dataBytes)}; the copy is made beside it), and ${formatBytes(freeBytes)} is free. ` +
        `Nothing was applied; free some space (docker system df shows what takes it) and run again`
    );
}

/** The refusal of an upgrade whose new image lacks extensions the databases use; undefined when it has them. */
export function extensionsProblem(
    app: string,
    image: string,
    used: Readonly<Record<string, readonly string[]>>,
    available: readonly string[],
): string | undefined {
    const missing = Object.entries(used).flatMap(([db, exts]) =>
        exts.filter((e) => !available.includes(e)).map((e) => `${e} (database ${db})`),
    );
    if (missing.length === 0) return undefined;
    return (
        `apps.${app}.dedicated.version: image ${image} lacks the extension${missing.length > 1 ? "s" : ""} ${missing.join(", ")}, ` +
        `so the restore would fail. Nothing was applied; use an image that has ${missing.length > 1 ? "them" : "it"} (apps.${app}.dedicated.image), or drop ${missing.length > 1 ? "them" : "it"} from the app first`
    );
}

/** The directory holding pg_dump and pg_restore of PostgreSQL 18 (they read every major), or a refusal saying how to install them. */
export function clientToolsOrProblem(app: string): { bin: string } | { problem: string } {
    const bin = findClientBin(process.env, PG_CLIENT_MAJOR);
    if (bin) return { bin };
    return {
        problem:
            `apps.${app}.dedicated.version: the upgrade copies the data with pg_dump and pg_restore of PostgreSQL ${PG_CLIENT_MAJOR}, which are not installed. ` +
            `Nothing was applied; ${INSTALL_CLIENT_TOOLS}`,
    };
}

/** The client tools' major an upgrade needs: the newest supported, whose pg_dump reads every older server. */
const PG_CLIENT_MAJOR = 18;

// ---- reading the old server ------------------------------------------------------------------

const SUPERUSER = "postgres";

/** How the program reaches a container of the app as the superuser: its address on the app's network. */
export function superuserEndpoint(c: ContainerFacts, network: string, database = SUPERUSER): CopyEndpoint {
    const host = c.addresses[network];
    if (!host) throw new Error(`container ${c.name} has no address on network ${network}`);
    const password = c.env.find((e) => e.startsWith("POSTGRES_PASSWORD="))?.slice("POSTGRES_PASSWORD=".length);
    if (password === undefined) throw new Error(`container ${c.name} has no POSTGRES_PASSWORD to connect with`);
    return { host, port: 5432, user: SUPERUSER, password, database, sslmode: "disable", connectTimeoutSeconds: 10 };
}

async function connect(e: CopyEndpoint): Promise<Client> {
    const { Client } = await import("pg");
    const client = new Client({
        host: e.host,
        port: e.port,
        user: e.user,
        password: e.password,
        database: e.database,
        ssl: false,
        connectionTimeoutMillis: 10_000,
    });
    await client.connect();
    return client;
}

async function withClient<T>(e: CopyEndpoint, fn: (c: Client) => Promise<T>): Promise<T> {
    const client = await connect(e);
    try {
        return await fn(client);
    } finally {
        await client.end().catch(() => undefined);
    }
}

/** The databases an upgrade carries: every one but postgres and the templates, with its owner and locale. */
const DATABASES_SQL = `SELECT datname AS name, pg_catalog.pg_get_userbyid(datdba) AS owner, pg_catalog.pg_encoding_to_char(encoding) AS encoding,
       datcollate AS collate, datctype AS ctype, pg_catalog.pg_database_size(oid)::text AS bytes
  FROM pg_catalog.pg_database WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY 1`;
const EXTENSIONS_USED_SQL = "SELECT extname AS name FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql' ORDER BY 1";

interface DatabaseRow {
    readonly name: string;
    readonly owner: string;
    readonly encoding: string;
    readonly collate: string;
    readonly ctype: string;
    readonly bytes: string;
}

/** What the preflight checks of an upgrade read on the running old server: databases, their size and extensions, and the disk. */
export async function readUpgradeSource(
    c: ContainerFacts,
    network: string,
): Promise<{ databases: Record<string, readonly string[]>; dataBytes: number; freeBytes: number; databaseBytes: number }> {
    const endpoint = superuserEndpoint(c, network);
    const databases = await withClient(endpoint, async (pg) => (await pg.query<DatabaseRow>(DATABASES_SQL)).rows);
    const used: Record<string, readonly string[]> = {};
    for (const db of databases) {
        used[db.name] = await withClient({ ...endpoint, database: db.name }, async (pg) =>
            (await pg.query<{ name: string }>(EXTENSIONS_USED_SQL)).rows.map((r) => r.name),
        );
    }
    // The volume's filesystem is Docker's data root (the local driver).
    const df = await execInContainer(c.name, [
        "sh",
        "-c",
        `du -sk ${PGDATA} | cut -f1; df -Pk ${PGDATA} | tail -1 | tr -s ' ' | cut -d' ' -f4`,
    ]);
    const [usedKb, freeKb] = df.output.trim().split(/\s+/).map(Number);
    if (df.exitCode !== 0 || !Number.isFinite(usedKb) || !Number.isFinite(freeKb))
        throw new Error(`cannot read the disk use of ${c.name}: ${df.output.trim()}`);
    return {
        databases: used,
        dataBytes: usedKb * 1024,
        freeBytes: freeKb * 1024,
        databaseBytes: databases.reduce((s, d) => s + Number(d.bytes), 0),
    };
}

// ---- the statements the roles and privileges are carried with ----------------------------------

const ROLES_SQL = `SELECT pg_catalog.format('CREATE ROLE %I WITH %s %s %s %s %s %s %s CONNECTION LIMIT %s%s%s', rolname,
         CASE WHEN rolsuper THEN 'SUPERUSER' ELSE 'NOSUPERUSER' END, CASE WHEN rolinherit THEN 'INHERIT' ELSE 'NOINHERIT' END,
         CASE WHEN rolcreaterole THEN 'CREATEROLE' ELSE 'NOCREATEROLE' END, CASE WHEN rolcreatedb THEN 'CREATEDB' ELSE 'NOCREATEDB' END,
         CASE WHEN rolcanlogin THEN 'LOGIN' ELSE 'NOLOGIN' END, CASE WHEN rolreplication THEN 'REPLICATION' ELSE 'NOREPLICATION' END,
         CASE WHEN rolbypassrls THEN 'BYPASSRLS' ELSE 'NOBYPASSRLS' END, rolconnlimit,
         CASE WHEN rolpassword IS NULL THEN '' ELSE pg_catalog.format(' PASSWORD %L', rolpassword) END,
         CASE WHEN rolvaliduntil IS NULL THEN '' ELSE pg_catalog.format(' VALID UNTIL %L', rolvaliduntil) END) AS sql
  FROM pg_catalog.pg_authid WHERE rolname !~ '^pg_' AND rolname <> current_user ORDER BY rolname`;

const MEMBERSHIPS_SQL = `SELECT pg_catalog.format('GRANT %I TO %I%s', r.rolname, m.rolname, CASE WHEN a.admin_option THEN ' WITH ADMIN OPTION' ELSE '' END) AS sql
  FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles r ON r.oid = a.roleid JOIN pg_catalog.pg_roles m ON m.oid = a.member
 WHERE m.rolname !~ '^pg_' AND m.rolname <> current_user ORDER BY 1`;

/**
 * Per-role and per-database settings (ALTER ROLE/DATABASE ... SET), as
 * statements. A list setting (search_path, ...) is stored with its elements
 * quoted already and goes back as it is, as pg_dumpall does; any other is a literal.
 */
const SETTINGS_SQL = `SELECT CASE WHEN s.setrole = 0 THEN pg_catalog.format('ALTER DATABASE %I SET %s TO %s', d.datname, v.name, v.value)
            WHEN s.setdatabase = 0 THEN pg_catalog.format('ALTER ROLE %I SET %s TO %s', r.rolname, v.name, v.value)
            ELSE pg_catalog.format('ALTER ROLE %I IN DATABASE %I SET %s TO %s', r.rolname, d.datname, v.name, v.value) END AS sql
  FROM pg_catalog.pg_db_role_setting s LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
  LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) AS c,
  LATERAL (SELECT split_part(c, '=', 1) AS name, substr(c, strpos(c, '=') + 1) AS raw) AS kv,
  LATERAL (SELECT kv.name, CASE WHEN kv.name IN ('search_path', 'temp_tablespaces', 'local_preload_libraries', 'session_preload_libraries')
                                THEN kv.raw ELSE pg_catalog.quote_literal(kv.raw) END AS value) AS v
 WHERE (s.setrole = 0 OR r.rolname <> current_user) AND (s.setdatabase = 0 OR (NOT d.datistemplate AND d.datname <> 'postgres')) ORDER BY 1`;

const grantee = (oid: string) => `CASE WHEN ${oid} = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(${oid})) END`;

/** A database's own ACL: PUBLIC's defaults taken away when the source did, then each grant. */
const DATABASE_ACL_SQL = `SELECT 'REVOKE ALL ON DATABASE ' || pg_catalog.quote_ident(datname) || ' FROM PUBLIC' AS sql FROM pg_catalog.pg_database WHERE datname = $1 AND datacl IS NOT NULL
UNION ALL
SELECT pg_catalog.format('GRANT %s ON DATABASE %I TO %s', a.privilege_type, d.datname, ${grantee("a.grantee")})
  FROM pg_catalog.pg_database d, pg_catalog.aclexplode(d.datacl) a WHERE d.datname = $1 AND a.grantee <> d.datdba`;

/**
 * The privileges copyDatabase leaves out (it restores without them, for moves
 * where the tool grants anew): on schemas, tables, views and sequences, and
 * the default privileges, as GRANT statements read in the source database.
 */
const OBJECT_ACL_SQL = `SELECT pg_catalog.format('GRANT %s ON SCHEMA %I TO %s%s', a.privilege_type, n.nspname, ${grantee("a.grantee")}, CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) AS sql
  FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
 WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND a.grantee <> n.nspowner
UNION ALL
SELECT pg_catalog.format('GRANT %s ON %s %I.%I TO %s%s', a.privilege_type, CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, n.nspname, c.relname, ${grantee("a.grantee")},
       CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, pg_catalog.aclexplode(c.relacl) a
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND a.grantee <> c.relowner
UNION ALL
SELECT pg_catalog.format('ALTER DEFAULT PRIVILEGES FOR ROLE %I%s GRANT %s ON %s TO %s', pg_catalog.pg_get_userbyid(d.defaclrole),
       CASE WHEN d.defaclnamespace = 0 THEN '' ELSE pg_catalog.format(' IN SCHEMA %I', n.nspname) END, a.privilege_type,
       CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END, ${grantee("a.grantee")})
  FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace, pg_catalog.aclexplode(d.defaclacl) a
 WHERE a.grantee <> d.defaclrole`;

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const quoteLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** CREATE DATABASE for the copy: its owner, encoding and locale as on the old server (a locale the new image lacks fails here, before any data moves). */
export function createDatabaseSql(db: Pick<DatabaseRow, "name" | "owner" | "encoding" | "collate" | "ctype">): string {
    return (
        `CREATE DATABASE ${quoteIdent(db.name)} WITH OWNER ${quoteIdent(db.owner)} TEMPLATE template0 ` +
        `ENCODING ${quoteLiteral(db.encoding)} LC_COLLATE ${quoteLiteral(db.collate)} LC_CTYPE ${quoteLiteral(db.ctype)}`
    );
}

const statements = async (pg: Client, sql: string, params: unknown[] = []) =>
    (await pg.query<{ sql: string }>(sql, params)).rows.map((r) => r.sql);

// ---- the upgrade ------------------------------------------------------------------------------

/** How long the staging server may take to accept connections. */
const STAGING_READY_MS = 120_000;

/** The staging container's name: the server's, with `-upgrade`. */
export const stagingName = (n: DedicatedEngineNames) => `${n.container}-upgrade`;

/**
 * Carries the data of the running container of `n` into a server of the new
 * major on `plan.to`, verified; resolves once the staging server is gone and
 * the new volume is ready for the container the engine makes. Throws (after
 * removing what it made) when anything fails: the old server is untouched.
 */
export async function upgradeDedicated(
    n: DedicatedEngineNames,
    plan: Extract<VolumePlan, { kind: "upgrade" }>,
    image: string,
    memoryMb: number,
    log: (line: string) => void = (line) => void pulumi.log.info(line),
): Promise<void> {
    const tools = clientToolsOrProblem(n.app);
    if ("problem" in tools) throw new Error(tools.problem);
    const old = await inspectContainer(n.container);
    if (!old?.running) throw new Error(`container ${n.container} is not running: the upgrade copies from the running server`);
    const source = superuserEndpoint(old, n.network);
    const staging = stagingName(n);
    const labels = Object.fromEntries(dedicatedLabels(n.app, n.stack).map((l) => [l.label, l.value]));
    await removeContainer(staging);
    if (plan.startOver) await removeVolume(plan.to);
    await createVolume(plan.to, labels);
    const started = Date.now();
    try {
        await runContainer({
            name: staging,
            image,
            env: [`POSTGRES_PASSWORD=${source.password}`, `POSTGRES_USER=${SUPERUSER}`, `POSTGRES_DB=${SUPERUSER}`, `PGDATA=${PGDATA}`],
            labels: { ...labels, "app-databases.purpose": `upgrade of ${n.container} to PostgreSQL ${plan.toMajor}` },
            binds: [`${plan.to}:${PGDATA}`],
            network: n.network,
            memoryMb,
            healthcheck: `pg_isready -U ${SUPERUSER} -d ${SUPERUSER} -h 127.0.0.1`,
        });
        const ready = await untilReady(staging);
        const marked = await execInContainer(staging, ["sh", "-c", `date -u > ${PGDATA}/${UPGRADE_MARKER}`]);
        if (marked.exitCode !== 0) throw new Error(`cannot mark ${plan.to} as an unfinished upgrade: ${marked.output.trim()}`);
        const target = superuserEndpoint(ready, n.network);
        log(
            `dedicated server of app ${n.app}: PostgreSQL ${plan.toMajor} staging server ${staging} is up on ${plan.to}; copying the roles`,
        );

        const databases = await withClient(source, async (src) => {
            const roles = [...(await statements(src, ROLES_SQL)), ...(await statements(src, MEMBERSHIPS_SQL))];
            const dbs = (await src.query<DatabaseRow>(DATABASES_SQL)).rows;
            await withClient(target, async (dst) => {
                for (const sql of roles) await dst.query(sql);
                for (const db of dbs) await dst.query(createDatabaseSql(db));
                for (const sql of await statements(src, SETTINGS_SQL)) await dst.query(sql);
                for (const db of dbs) for (const sql of await statements(src, DATABASE_ACL_SQL, [db.name])) await dst.query(sql);
            });
            return dbs;
        });
        for (const db of databases) {
            const report = await copyDatabase({
                source: { ...source, database: db.name },
                target: { ...target, database: db.name },
                ownerRole: db.owner,
                clientBin: tools.bin,
                log,
            });
            const grants = await withClient({ ...source, database: db.name }, (src) => statements(src, OBJECT_ACL_SQL));
            await withClient({ ...target, database: db.name }, async (dst) => {
                for (const sql of grants) await dst.query(sql);
            });
            log(
                `dedicated server of app ${n.app}: database ${db.name} copied to PostgreSQL ${plan.toMajor} and verified ` +
                    `(${report.tableCount} tables, ${report.rowCount} rows, counts and checksums equal; ${grants.length} grants)`,
            );
        }
        // The old server's rules, so that the new one lets in exactly whom the old one did from its first start.
        const hba = await withClient(
            source,
            async (src) => (await src.query<{ text: string }>("SELECT pg_catalog.pg_read_file('pg_hba.conf') AS text")).rows[0].text,
        );
        const written = await execInContainer(staging, [
            "sh",
            "-c",
            `echo '${Buffer.from(hba).toString("base64")}' | base64 -d > ${PGDATA}/pg_hba.conf && rm ${PGDATA}/${UPGRADE_MARKER}`,
        ]);
        if (written.exitCode !== 0) throw new Error(`cannot write pg_hba.conf on ${plan.to}: ${written.output.trim()}`);
        await stopContainer(staging);
        await removeContainer(staging);
        log(
            `dedicated server of app ${n.app}: the data is on ${plan.to} (PostgreSQL ${plan.toMajor}) after ${((Date.now() - started) / 1000).toFixed(1)} s; the container is replaced next`,
        );
    } catch (err) {
        // Nothing of the new server served: take it away, the old one serves on.
        await removeContainer(staging).catch(() => undefined);
        await removeVolume(plan.to).catch(() => undefined);
        throw new Error(
            `the upgrade from PostgreSQL ${plan.fromMajor} to ${plan.toMajor} failed: ${(err as Error).message}. ` +
                `Nothing changed: ${n.container} still serves on ${plan.from} and the outputs are as they were ` +
                `(the staging container and volume ${plan.to} were removed). Fix what the message names, then run the up again; ` +
                `or keep apps.${n.app}.dedicated.version "${plan.fromMajor}"`,
        );
    }
}

/** Waits until the staging container's healthcheck passes; throws with its last log lines when it stops or takes too long. */
async function untilReady(name: string): Promise<ContainerFacts> {
    const started = Date.now();
    for (;;) {
        const c = await inspectContainer(name);
        if (c?.running && c.health === "healthy") return c;
        if (!c || (!c.running && Date.now() - started > 3_000) || Date.now() - started > STAGING_READY_MS) {
            throw new Error(
                `staging container ${name} did not become ready (${c ? `${c.status}, ${c.health ?? "no healthcheck"}` : "gone"})`,
            );
        }
        await new Promise((r) => setTimeout(r, 300));
    }
}
