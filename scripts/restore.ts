/**
 * Restores one app's database from one of its backups; no other database is touched.
 *
 *   npm run --silent restore -- <app> --to <name>       # into a new database, to look at it
 *   npm run --silent restore -- <app> --in-place        # alongside, then swapped in by name
 *     [--backup <id>|latest] [--before <time>] [--target NAME] [--stack NAME] [--yes] [--terminate] [--force] [--cwd DIR]
 *
 * In place: the backup is restored into `<db>_restore_<stamp>`, checked against
 * its manifest's row counts, then two renames in one transaction put it in the
 * database's place and keep the replaced one as `<db>_replaced_<yyyymmddhhmm>`
 * until you drop it. The new database gets the old one's owner (the migrate
 * role), CONNECT grants and per-database role settings; the objects are owned
 * by the migrate role (`pg_restore --no-owner --role`), the dump's grants to
 * the app's roles are restored, and the roles keep their passwords (roles are
 * cluster objects, not in a dump).
 *
 * Refused, before anything changes: a backup whose restore drill did not pass
 * (unless --force), a backup from a newer major than the server, and, in
 * place, a database with sessions (named; --terminate ends them).
 * Reads the stack's config like `npm run report`, and its `backup` output for
 * the runner; pg_restore runs in the runner container (docker exec). A backup
 * is taken from the directory target when it is there, else from the first S3
 * target that has it (`--target` chooses one): the runner downloads it and
 * checks its sha256 against the manifest first (`app-databases-backup fetch`).
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import * as readline from "node:readline/promises";
import type { Client } from "pg";
import { quoteIdent, withAdminClient } from "../components/adminConnection";
import { identifierProblem } from "../components/identifiers";
import { parseStackConfig, StackConfig } from "../program/config";
import { adminConnectionOf } from "../program/preflight";
import { rawConfigFromCli } from "./report";

const USAGE =
    "usage: npm run --silent restore -- <app> (--to <name> | --in-place) [--backup <id>|latest] [--before <time>] [--target NAME] [--stack NAME] [--yes] [--terminate] [--force] [--cwd DIR]";

export interface RestoreOptions {
    readonly app: string;
    readonly backup: string;
    readonly before?: Date;
    readonly to?: string;
    readonly inPlace: boolean;
    readonly yes: boolean;
    readonly terminate: boolean;
    readonly force: boolean;
    /** The target to restore from. @default the directory target, else the first S3 target holding the backup */
    readonly target?: string;
    readonly stack?: string;
    readonly cwd: string;
}

/** Parses the command line; throws with the usage on anything else. */
export function parseRestoreArgs(argv: readonly string[]): RestoreOptions {
    let app: string | undefined;
    const o: { -readonly [K in keyof RestoreOptions]?: RestoreOptions[K] } = {};
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const value = () => {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) throw new Error(`${arg} needs a value\n${USAGE}`);
            return v;
        };
        if (arg === "--backup") o.backup = value();
        else if (arg === "--before") {
            const v = value();
            const t = new Date(v);
            if (Number.isNaN(t.getTime()))
                throw new Error(`--before: expected a time such as 2026-12-07T03:00:00Z, got ${JSON.stringify(v)}`);
            o.before = t;
        } else if (arg === "--to") o.to = value();
        else if (arg === "--in-place") o.inPlace = true;
        else if (arg === "--yes") o.yes = true;
        else if (arg === "--terminate") o.terminate = true;
        else if (arg === "--force") o.force = true;
        else if (arg === "--stack" || arg === "-s") o.stack = value();
        else if (arg === "--target") o.target = value();
        else if (arg === "--cwd") o.cwd = path.resolve(value());
        else if (!arg.startsWith("-") && app === undefined) app = arg;
        else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
    }
    if (app === undefined) throw new Error(`which app?\n${USAGE}`);
    if ((o.to === undefined) === (o.inPlace === undefined)) throw new Error(`expected one of --to <name> or --in-place\n${USAGE}`);
    if (o.before && o.backup && o.backup !== "latest") throw new Error(`expected --backup <id> or --before <time>, not both\n${USAGE}`);
    if (o.to !== undefined) {
        const problem = identifierProblem(o.to);
        if (problem) throw new Error(`--to: ${problem}`);
    }
    return {
        app,
        backup: o.backup ?? "latest",
        ...(o.before ? { before: o.before } : {}),
        ...(o.to !== undefined ? { to: o.to } : {}),
        inPlace: o.inPlace ?? false,
        yes: o.yes ?? false,
        terminate: o.terminate ?? false,
        force: o.force ?? false,
        ...(o.stack ? { stack: o.stack } : {}),
        ...(o.target ? { target: o.target } : {}),
        cwd: o.cwd ?? path.resolve(__dirname, ".."),
    };
}

/** One published backup, as the runner's `list` prints it. */
export interface ListedBackup {
    readonly app: string;
    readonly id: string;
    /** passed, failed or unverified. */
    readonly drill: string;
    readonly end: string;
    readonly size: number;
    readonly major: number;
    readonly database: string;
    /** The archive's path inside the runner, or its s3:// URL. */
    readonly file: string;
    /** The target it is on. */
    readonly target: string;
}

export function parseBackupList(text: string): ListedBackup[] {
    return text
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => {
            const [app, id, drill, end, size, major, database, file, target] = l.split("\t");
            return { app, id, drill, end, size: Number(size), major: Number(major), database, file, target };
        });
}

/** The backup the options ask for, or throws saying why none fits (the refusal of a failed drill included). */
export function chooseBackup(
    backups: readonly ListedBackup[],
    options: Pick<RestoreOptions, "app" | "backup" | "before" | "force" | "target">,
): ListedBackup {
    const targets = [...new Set(backups.map((b) => b.target))];
    if (options.target !== undefined && !targets.includes(options.target))
        throw new Error(`no backups on target ${options.target}; the runner's targets with backups: ${targets.join(", ") || "none"}`);
    // One row per id: the chosen target's, else the first listed (the directory target comes first).
    const seen = new Set<string>();
    const own = backups
        .filter((b) => b.app === options.app && (options.target === undefined || b.target === options.target))
        .filter((b) => !seen.has(b.id) && seen.add(b.id) !== undefined)
        .sort((a, b) => (a.id < b.id ? -1 : 1));
    if (own.length === 0)
        throw new Error(
            `no backups of ${options.app}${options.target ? ` on target ${options.target}` : ""} in the runner; take one: docker exec <runner> app-databases-backup now ${options.app}`,
        );
    if (options.backup !== "latest") {
        const found = own.find((b) => b.id === options.backup);
        if (!found)
            throw new Error(`no backup ${options.app}/${options.backup}; there are: ${own.map((b) => `${b.id} (${b.drill})`).join(", ")}`);
        if (found.drill !== "passed" && !options.force) {
            throw new Error(
                `backup ${options.app}/${found.id}: its restore drill ${found.drill === "failed" ? "failed" : "has not run"}; choose another, or pass --force. Nothing was changed.`,
            );
        }
        return found;
    }
    const candidates = own.filter((b) => (options.before ? new Date(b.end) < options.before : true));
    const good = candidates.filter((b) => b.drill === "passed").at(-1);
    if (!good) {
        const when = options.before ? ` before ${options.before.toISOString()}` : "";
        throw new Error(
            `no backup of ${options.app}${when} passed its restore drill (${candidates.map((b) => `${b.id} ${b.drill}`).join(", ") || "none"}). Nothing was changed.`,
        );
    }
    return good;
}

/** `yyyymmddhhmm` in UTC, for the replaced database's name. */
export const stampOf = (t: Date) => t.toISOString().replace(/[-:T]/g, "").slice(0, 12);

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
    const r = spawnSync(command, args, { cwd, encoding: "utf8", env, maxBuffer: 64 * 1024 * 1024 });
    if (r.error) throw new Error(`cannot run ${command}: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`${command} ${args.slice(0, 3).join(" ")} failed: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
}

function stackConfig(options: RestoreOptions): { config: StackConfig; runner: string } {
    const stack = options.stack ? ["--stack", options.stack] : [];
    const config = parseStackConfig(
        rawConfigFromCli(
            JSON.parse(run("pulumi", ["config", "--show-secrets", "--json", ...stack], options.cwd)) as Record<string, { value?: string }>,
        ),
    );
    const out = run("pulumi", ["stack", "output", "backup", "--json", ...stack], options.cwd).trim();
    const backup = out === "" ? undefined : (JSON.parse(out) as { runner?: string } | null);
    if (!backup?.runner) throw new Error("the stack has no backup runner (no `backup` block, or no `pulumi up` since)");
    return { config, runner: backup.runner };
}

interface Session {
    readonly pid: number;
    readonly usename: string;
    readonly application_name: string;
    readonly client_addr: string | null;
}

const sessionsOn = async (client: Client, database: string) =>
    (
        await client.query<Session>(
            "SELECT pid, usename, application_name, host(client_addr) AS client_addr FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid",
            [database],
        )
    ).rows;

export const describeSessions = (sessions: readonly Session[]) =>
    sessions
        .map((s) => `pid ${s.pid} ${s.usename} ${JSON.stringify(s.application_name)} from ${s.client_addr ?? "a local socket"}`)
        .join(", ");

/** A role setting's value as ALTER ... SET takes it: list settings (search_path) as their items, others quoted. */
function settingValue(client: Client, name: string, value: string): string {
    if (name === "search_path" && /^[A-Za-z0-9_$", ]*$/.test(value)) return value;
    return client.escapeLiteral(value);
}

/** The database `to` made like `from`: owner, encoding, locale, CONNECT grants and per-database role settings. */
async function createLike(client: Client, from: string, to: string): Promise<void> {
    const [db] = (
        await client.query<{ oid: number; owner: string; enc: string; collate: string; ctype: string; acl: boolean }>(
            `SELECT oid, pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS enc, datcollate AS collate, datctype AS ctype, datacl IS NOT NULL AS acl
               FROM pg_database WHERE datname = $1`,
            [from],
        )
    ).rows;
    if (!db) throw new Error(`database ${from} does not exist on the server`);
    await client.query(
        `CREATE DATABASE ${quoteIdent(to)} OWNER ${quoteIdent(db.owner)} TEMPLATE template0 ENCODING ${client.escapeLiteral(db.enc)} LC_COLLATE ${client.escapeLiteral(db.collate)} LC_CTYPE ${client.escapeLiteral(db.ctype)}`,
    );
    if (db.acl) {
        await client.query(`REVOKE ALL ON DATABASE ${quoteIdent(to)} FROM PUBLIC`);
        const grants = await client.query<{ grantee: string | null; privilege: string }>(
            `SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END AS grantee, a.privilege_type AS privilege
               FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = $1 AND a.grantee <> d.datdba`,
            [from],
        );
        for (const g of grants.rows) {
            await client.query(
                `GRANT ${g.privilege} ON DATABASE ${quoteIdent(to)} TO ${g.grantee === null ? "PUBLIC" : quoteIdent(g.grantee)}`,
            );
        }
    }
    const settings = await client.query<{ role: string | null; config: string[] }>(
        "SELECT CASE WHEN setrole = 0 THEN NULL ELSE pg_get_userbyid(setrole) END AS role, setconfig AS config FROM pg_db_role_setting WHERE setdatabase = $1",
        [db.oid],
    );
    for (const s of settings.rows) {
        for (const item of s.config) {
            const eq = item.indexOf("=");
            const [name, value] = [item.slice(0, eq), item.slice(eq + 1)];
            const target = s.role === null ? `DATABASE ${quoteIdent(to)}` : `ROLE ${quoteIdent(s.role)} IN DATABASE ${quoteIdent(to)}`;
            await client.query(`ALTER ${target} SET ${quoteIdent(name)} TO ${settingValue(client, name, value)}`);
        }
    }
}

async function confirm(plan: string, options: RestoreOptions): Promise<void> {
    process.stdout.write(plan + "\n");
    if (options.yes) return;
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question("Type yes to go on: ");
    rl.close();
    if (answer.trim() !== "yes") throw new Error("not confirmed. Nothing was changed.");
}

export async function restore(options: RestoreOptions): Promise<void> {
    const { config, runner } = stackConfig(options);
    const app = config.apps[options.app];
    if (!app) throw new Error(`no app ${options.app} in this stack (it has: ${Object.keys(config.apps).join(", ")})`);
    const server = config.servers[app.server];
    if (!server) throw new Error(`${options.app} is not on a shared server: restoring dedicated apps is not supported yet`);
    const backup = chooseBackup(parseBackupList(run("docker", ["exec", runner, "app-databases-backup", "list"], options.cwd)), options);
    // From an S3 target: downloaded into the runner and checked against its manifest first.
    const file = backup.file.startsWith("s3://")
        ? run("docker", ["exec", runner, "app-databases-backup", "fetch", backup.target, backup.app, backup.id], options.cwd).trim()
        : backup.file;
    // The downloaded copy goes once restored (or not).
    const dropFetched = () => {
        if (file !== backup.file) spawnSync("docker", ["exec", runner, "rm", "-rf", path.posix.dirname(file)]);
    };
    const manifest = JSON.parse(
        run("docker", ["exec", runner, "cat", path.posix.join(path.posix.dirname(file), "manifest.json")], options.cwd),
    ) as {
        tables: { schema: string; table: string; rows: number }[];
    };
    const connection = adminConnectionOf(server);
    const stamp = stampOf(new Date());
    const database = app.database;
    const migrate = app.roles.migrate ?? `${app.name}_migrate`;
    const scratch = options.inPlace ? `${database}_restore_${stamp}` : options.to!;
    const replaced = `${database}_replaced_${stamp}`;
    for (const name of options.inPlace ? [scratch, replaced] : [scratch]) {
        const problem = identifierProblem(name);
        if (problem) throw new Error(`cannot name the database ${name}: ${problem}. Nothing was changed.`);
    }

    let serverMajor = 0;
    await withAdminClient(connection, async (client) => {
        const major = Math.floor(
            Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0].v) / 10000,
        );
        serverMajor = major;
        if (backup.major > major) {
            throw new Error(
                `backup ${options.app}/${backup.id} was taken from PostgreSQL ${backup.major}; server ${app.server} runs PostgreSQL ${major}, older: a dump is not restored into an older major. Nothing was changed.`,
            );
        }
        const taken = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname = ANY($1)", [
            options.inPlace ? [scratch, replaced] : [scratch],
        ]);
        if (taken.rowCount) throw new Error(`database ${taken.rows[0].datname} exists already. Nothing was changed.`);
        if (options.inPlace) {
            const sessions = await sessionsOn(client, database);
            if (sessions.length > 0 && !options.terminate) {
                throw new Error(
                    `database ${database} has ${sessions.length} session${sessions.length === 1 ? "" : "s"} (${describeSessions(sessions)}): stop them, or pass --terminate to end them. Nothing was changed.`,
                );
            }
        }
    });

    const rows = manifest.tables.reduce((n, t) => n + t.rows, 0);
    await confirm(
        [
            `Restore ${options.app} (database ${database} on ${app.server}) from backup ${backup.id} on target ${backup.target}`,
            `  taken ${backup.end}, PostgreSQL ${backup.major}, ${backup.size} bytes, ${manifest.tables.length} tables, ${rows} rows, restore drill ${backup.drill}`,
            options.inPlace
                ? `  restore into ${scratch}, then rename ${database} to ${replaced} (kept until you drop it) and ${scratch} to ${database}${options.terminate ? ", ending the sessions on it" : ""}`
                : `  restore into the new database ${options.to}; ${database} is not touched`,
        ].join("\n"),
        options,
    );

    await withAdminClient(connection, (client) => createLike(client, database, scratch));
    try {
        // pg_restore of the runner, on the archive where it is; the password travels in the environment.
        const conninfo = `host=${server.host} port=${server.port} user=${connection.username} dbname=${scratch}`;
        run(
            "docker",
            [
                "exec",
                "-e",
                "PGPASSWORD",
                "-e",
                "PGSSLMODE",
                runner,
                "app-databases-backup",
                "restore-archive",
                String(serverMajor),
                conninfo,
                file,
            ].concat(["--no-owner", `--role=${migrate}`, "--no-password"]),
            options.cwd,
            { ...process.env, PGPASSWORD: connection.password, PGSSLMODE: server.sslmode },
        );
        await withAdminClient(
            connection,
            async (client) => {
                for (const t of manifest.tables) {
                    const n = Number(
                        (await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(t.schema)}.${quoteIdent(t.table)}`))
                            .rows[0].n,
                    );
                    if (n !== t.rows) throw new Error(`restored ${t.schema}.${t.table} has ${n} rows, the manifest ${t.rows}`);
                }
            },
            scratch,
        );
    } catch (err) {
        dropFetched();
        await withAdminClient(connection, (client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(scratch)}`));
        throw new Error(`restore failed, ${scratch} dropped, ${database} untouched: ${(err as Error).message}`);
    }
    dropFetched();
    if (!options.inPlace) {
        process.stdout.write(
            `restored ${options.app}/${backup.id} into ${scratch} (${manifest.tables.length} tables, ${rows} rows as in the manifest)\n`,
        );
        return;
    }
    await withAdminClient(connection, async (client) => {
        for (let attempt = 1; ; attempt++) {
            if (options.terminate)
                await client.query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                    [database],
                );
            try {
                // One transaction: the app's name points at the old database or the restored one, never at none.
                await client.query("BEGIN");
                await client.query(`ALTER DATABASE ${quoteIdent(database)} RENAME TO ${quoteIdent(replaced)}`);
                await client.query(`ALTER DATABASE ${quoteIdent(scratch)} RENAME TO ${quoteIdent(database)}`);
                await client.query("COMMIT");
                return;
            } catch (err) {
                await client.query("ROLLBACK");
                const sessions = await sessionsOn(client, database);
                if (!options.terminate || attempt >= 5) {
                    throw new Error(
                        `could not swap ${scratch} in (${(err as Error).message}${sessions.length ? `; sessions: ${describeSessions(sessions)}` : ""}); ${database} is untouched, ${scratch} holds the restored backup`,
                    );
                }
            }
        }
    });
    process.stdout.write(
        `restored ${options.app}/${backup.id} in place: ${database} is the backup's (${manifest.tables.length} tables, ${rows} rows), the replaced database is kept as ${replaced}\n`,
    );
}

if (require.main === module) {
    (async () => {
        const options = parseRestoreArgs(process.argv.slice(2));
        process.chdir(options.cwd); // admin.passwordFile is relative to the project, as for pulumi
        await restore(options);
    })().catch((err: unknown) => {
        process.stderr.write(`restore: ${(err as Error).message}\n`);
        process.exit(1);
    });
}
