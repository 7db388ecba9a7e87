/**
 * The same end state reached two other ways: an Ansible playbook with
 * community.postgresql (bench/ansible/*.yml), and raw SQL through one psql
 * invocation (`psql -v ON_ERROR_STOP=1 -f`), the floor.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { AppSpec, RUNTIME_SETTINGS } from "./catalog";
import { Login } from "./checks";
import { BENCH_DIR, PgTarget, run, RunResult } from "./util";

const password = () => randomBytes(30).toString("base64url").slice(0, 40);

/** One password per role, made on first use and kept, so a tool's re-run sets the same one and the login check can use it. */
class Passwords {
    private readonly byRole = new Map<string, string>();

    of(role: string): string {
        if (!this.byRole.has(role)) this.byRole.set(role, password());
        return this.byRole.get(role)!;
    }

    /** The login roles of these apps with their passwords. */
    logins(apps: readonly AppSpec[]): Login[] {
        return apps.flatMap((a) =>
            [`${a.name}_app`, `${a.name}_migrate`].map((role) => ({ app: a.name, role, password: this.of(role), database: a.name })),
        );
    }
}

export class AnsibleTool {
    readonly logFile: string;
    readonly passwords = new Passwords();

    constructor(
        readonly workDir: string,
        readonly venv: string,
        readonly pg: PgTarget,
    ) {
        fs.mkdirSync(workDir, { recursive: true });
        this.logFile = path.join(workDir, "ansible.log");
    }

    /**
     * Runs a playbook for these apps; `changed` and `ok` count loop items (role, database, grant per app),
     * `recapChanged` is the PLAY RECAP's `changed=` (tasks), null when there is no recap.
     */
    async play(
        playbook: "apps.yml" | "remove.yml",
        apps: readonly AppSpec[],
    ): Promise<RunResult & { changed: number; ok: number; recapChanged: number | null }> {
        const vars = path.join(this.workDir, "vars.json");
        fs.writeFileSync(
            vars,
            JSON.stringify({
                pg: this.pg,
                apps: apps.map((a) => ({
                    name: a.name,
                    connection_limit: a.connectionLimit,
                    migrate_connection_limit: a.migrateConnectionLimit,
                    runtime_password: this.passwords.of(`${a.name}_app`),
                    migrate_password: this.passwords.of(`${a.name}_migrate`),
                })),
            }),
            { mode: 0o600 },
        );
        const python = path.join(this.venv, "bin", "python");
        const result = await run(
            path.join(this.venv, "bin", "ansible-playbook"),
            ["-i", "localhost,", "-e", `@${vars}`, "-e", `ansible_python_interpreter=${python}`, path.join(BENCH_DIR, "ansible", playbook)],
            {
                cwd: this.workDir,
                env: {
                    ...process.env,
                    PATH: `${path.join(this.venv, "bin")}:${process.env.PATH}`,
                    ANSIBLE_NOCOLOR: "1",
                    ANSIBLE_LOCALHOST_WARNING: "false",
                    ANSIBLE_INVENTORY_UNPARSED_WARNING: "false",
                    ANSIBLE_RETRY_FILES_ENABLED: "false",
                    ANSIBLE_LOCAL_TEMP: path.join(this.workDir, "tmp"),
                    ANSIBLE_REMOTE_TEMP: path.join(this.workDir, "tmp"),
                },
                logFile: this.logFile,
                cpu: true,
            },
        );
        // The recap counts tasks; count loop items instead ("changed: [localhost] => (item=...)").
        const items = (status: string) => result.stdout.split("\n").filter((l) => l.startsWith(`${status}: [localhost] => (item=`)).length;
        const recap = /^localhost\s*:.*\bchanged=(\d+)/m.exec(result.stdout);
        return { ...result, ok: items("ok"), changed: items("changed"), recapChanged: recap ? Number(recap[1]) : null };
    }
}

export class SqlTool {
    readonly logFile: string;
    readonly passwords = new Passwords();

    constructor(
        readonly workDir: string,
        readonly pg: PgTarget,
    ) {
        fs.mkdirSync(workDir, { recursive: true });
        this.logFile = path.join(workDir, "psql.log");
    }

    createSql(apps: readonly AppSpec[]): string {
        const attrs = "LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";
        const lines: string[] = [];
        for (const a of apps) {
            const m = `${a.name}_migrate`;
            const r = `${a.name}_app`;
            lines.push(
                `CREATE ROLE ${m} ${attrs} CONNECTION LIMIT ${a.migrateConnectionLimit} PASSWORD '${this.passwords.of(m)}';`,
                `CREATE ROLE ${r} ${attrs} CONNECTION LIMIT ${a.connectionLimit} PASSWORD '${this.passwords.of(r)}';`,
                ...Object.entries(RUNTIME_SETTINGS).map(([k, v]) => `ALTER ROLE ${r} SET ${k} = ${v};`),
                `CREATE DATABASE ${a.name} OWNER ${m};`,
                `REVOKE ALL ON DATABASE ${a.name} FROM PUBLIC;`,
                `GRANT CONNECT, TEMPORARY ON DATABASE ${a.name} TO ${r};`,
            );
        }
        // Default privileges live in each database: one \connect per app, in the same psql run.
        for (const a of apps) {
            const m = `${a.name}_migrate`;
            const r = `${a.name}_app`;
            lines.push(
                `\\connect ${a.name}`,
                `ALTER DEFAULT PRIVILEGES FOR ROLE ${m} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${r};`,
                `ALTER DEFAULT PRIVILEGES FOR ROLE ${m} IN SCHEMA public GRANT SELECT, UPDATE, USAGE ON SEQUENCES TO ${r};`,
            );
        }
        return lines.join("\n") + "\n";
    }

    static dropSql(apps: readonly AppSpec[]): string {
        return apps.map((a) => `DROP DATABASE ${a.name};\nDROP ROLE ${a.name}_app, ${a.name}_migrate;`).join("\n") + "\n";
    }

    async psql(name: string, sql: string): Promise<RunResult> {
        const file = path.join(this.workDir, `${name}.sql`);
        fs.writeFileSync(file, sql, { mode: 0o600 });
        return run(
            "psql",
            [
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                this.pg.host,
                "-p",
                String(this.pg.port),
                "-U",
                this.pg.user,
                "-d",
                "postgres",
                "-f",
                file,
            ],
            {
                env: { ...process.env, PGPASSWORD: this.pg.password, PGAPPNAME: "bench-psql" },
                logFile: this.logFile,
                cpu: true,
            },
        );
    }
}
