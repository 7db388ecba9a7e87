/**
 * A throwaway PostgreSQL cluster from the machine's own PostgreSQL packages:
 * initdb into a temp dir, scram-sha-256 password auth, a free loopback port,
 * torn down (and deleted) after.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Client, ClientConfig } from "pg";

/** The directory holding initdb and pg_ctl: PG_BIN, or the newest under /usr/lib/postgresql. */
export function postgresBinDir(): string {
    if (process.env.PG_BIN) return process.env.PG_BIN;
    const root = "/usr/lib/postgresql";
    const versions = fs.existsSync(root)
        ? fs
              .readdirSync(root)
              .filter((v) => /^\d+$/.test(v))
              .sort((a, b) => +b - +a)
        : [];
    for (const v of versions) {
        const dir = path.join(root, v, "bin");
        if (fs.existsSync(path.join(dir, "initdb"))) return dir;
    }
    throw new Error("PostgreSQL server binaries not found: install Debian's postgresql package (scripts/test.sh does) or set PG_BIN");
}

/** A port nobody listens on right now, on 127.0.0.1. */
export async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

export interface ClusterOptions {
    /** max_connections of the server. @default 100 */
    readonly maxConnections?: number;
    /** Extra `-c name=value` settings. */
    readonly settings?: Readonly<Record<string, string>>;
}

export class TestCluster {
    readonly adminUser = "postgres";
    readonly adminPassword = randomBytes(18).toString("base64url");
    port = 0;
    private dir = "";
    /** The `-o` options of pg_ctl start, reused when a paused server resumes. */
    private serverOptions = "";
    private readonly asPostgres = process.getuid?.() === 0;

    constructor(private readonly options: ClusterOptions = {}) {}

    /** Runs a PostgreSQL tool, as the postgres user when we are root (initdb refuses root). */
    private run(tool: string, args: string[]): void {
        const bin = path.join(postgresBinDir(), tool);
        const [cmd, argv] = this.asPostgres ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
        const result = spawnSync(cmd, argv, { encoding: "utf8" });
        if (result.status !== 0) {
            throw new Error(`${tool} failed (${result.status}): ${result.stderr || result.stdout}`);
        }
    }

    async start(): Promise<this> {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-pg-"));
        const data = path.join(this.dir, "data");
        const pwfile = path.join(this.dir, "pwfile");
        fs.writeFileSync(pwfile, this.adminPassword + "\n", { mode: 0o600 });
        if (this.asPostgres) execFileSync("chown", ["-R", "postgres:postgres", this.dir]);
        this.run("initdb", ["-D", data, "-U", this.adminUser, "--pwfile", pwfile, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C"]);
        this.port = await freePort();
        const settings: Record<string, string> = {
            listen_addresses: "127.0.0.1",
            port: String(this.port),
            unix_socket_directories: this.dir,
            max_connections: String(this.options.maxConnections ?? 100),
            fsync: "off", // a test cluster: speed over durability
            ...this.options.settings,
        };
        this.serverOptions = Object.entries(settings)
            .map(([k, v]) => `-c ${k}=${v}`)
            .join(" ");
        this.resume();
        return this;
    }

    async stop(): Promise<void> {
        if (!this.dir) return;
        try {
            this.run("pg_ctl", ["-D", path.join(this.dir, "data"), "-m", "immediate", "-w", "stop"]);
        } catch {
            // already stopped
        }
        fs.rmSync(this.dir, { recursive: true, force: true });
        this.dir = "";
    }

    /** Stops the server, keeping its data (fault tests). */
    pause(): void {
        this.run("pg_ctl", ["-D", path.join(this.dir, "data"), "-m", "fast", "-w", "stop"]);
    }

    /** Starts the server (again, after pause) on the same port with the same settings. */
    resume(): void {
        const data = path.join(this.dir, "data");
        this.run("pg_ctl", ["-D", data, "-l", path.join(this.dir, "server.log"), "-o", this.serverOptions, "-w", "-t", "60", "start"]);
    }

    clientConfig(user: string, password: string, database = "postgres"): ClientConfig {
        return { host: "127.0.0.1", port: this.port, user, password, database, connectionTimeoutMillis: 10_000 };
    }

    /** Runs one query as the admin and closes the session. */
    async admin<T = any>(sql: string, params: unknown[] = [], database = "postgres"): Promise<T[]> {
        const client = new Client(this.clientConfig(this.adminUser, this.adminPassword, database));
        await client.connect();
        try {
            return (await client.query(sql, params)).rows as T[];
        } finally {
            await client.end();
        }
    }

    /** Names of the roles and databases that are not the server's own. */
    async catalog(): Promise<{ roles: string[]; databases: string[] }> {
        const roles = await this.admin<{ rolname: string }>(
            "SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> $1 ORDER BY 1",
            [this.adminUser],
        );
        const databases = await this.admin<{ datname: string }>(
            "SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1') ORDER BY 1",
        );
        return { roles: roles.map((r) => r.rolname), databases: databases.map((d) => d.datname) };
    }
}

/** Connects with a libpq URL; the caller ends the client. */
export async function connectUrl(url: string): Promise<Client> {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    await client.connect();
    return client;
}

/** Runs `sql` through a URL and closes the session; resolves to the rows or rejects with the server's error. */
export async function queryUrl<T = any>(url: string, sql: string): Promise<T[]> {
    const client = await connectUrl(url);
    try {
        return (await client.query(sql)).rows as T[];
    } finally {
        await client.end();
    }
}

/** A URL with its user and password swapped, or the database changed. */
export function withDatabase(url: string, database: string): string {
    const u = new URL(url);
    u.pathname = `/${database}`;
    return u.toString();
}

/** The password inside a URL. */
export function passwordOf(url: string): string {
    return decodeURIComponent(new URL(url).password);
}
