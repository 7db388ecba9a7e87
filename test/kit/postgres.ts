/**
 * A throwaway PostgreSQL cluster: initdb into a temp dir, scram-sha-256
 * password auth, a free loopback port, torn down (and deleted) after. The
 * machine's own PostgreSQL packages by default; a given major version from the
 * binaries the test set-up installs (test/kit/postgresVersions.ts).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Client, ClientConfig } from "pg";
import { installPostgres } from "./postgresVersions";

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

/**
 * Ports the tests hand out: below Linux's ephemeral range (32768-60999), so
 * no client socket of another test takes one between its choice and its use.
 */
const PORT_RANGE = { from: 20_000, to: 32_000 } as const;
/** One file per handed-out port, holding the pid of the test process that has it. */
const PORT_LEASES = path.join(os.tmpdir(), "app-databases-test-ports");
const leased: string[] = [];
process.on("exit", () => leased.forEach((file) => fs.rmSync(file, { force: true })));

const alive = (pid: number): boolean => {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
};

/** Takes the lease of `port` for this process; false when a live test process holds it. */
function lease(port: number): boolean {
    fs.mkdirSync(PORT_LEASES, { recursive: true });
    const file = path.join(PORT_LEASES, String(port));
    for (let attempt = 0; attempt < 2; attempt++) {
        try {
            fs.writeFileSync(file, String(process.pid), { flag: "wx" });
            leased.push(file);
            return true;
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
            const holder = Number(fs.readFileSync(file, "utf8"));
            if (holder === process.pid || (Number.isInteger(holder) && holder > 0 && alive(holder))) return false;
            fs.rmSync(file, { force: true }); // left by a test process that ended
        }
    }
    return false;
}

const listenable = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
        const server = net.createServer();
        server.unref();
        server.on("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });

/**
 * A port nobody listens on right now, on 127.0.0.1, that no other test
 * process is given until this one ends: test files run in parallel, and a
 * port freed before Docker or PostgreSQL binds it must not go to another.
 */
export async function freePort(): Promise<number> {
    const span = PORT_RANGE.to - PORT_RANGE.from;
    for (let attempt = 0; attempt < 500; attempt++) {
        const port = PORT_RANGE.from + Math.floor(Math.random() * span);
        if (lease(port) && (await listenable(port))) return port;
    }
    throw new Error(`no free port found between ${PORT_RANGE.from} and ${PORT_RANGE.to} on 127.0.0.1`);
}

export interface ClusterOptions {
    /** PostgreSQL major version, from the installed matrix binaries. @default the machine's own PostgreSQL (Debian's) */
    readonly version?: number;
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

    /** The directory of this cluster's initdb, pg_ctl and postgres. */
    private binDir(): string {
        return this.options.version === undefined ? postgresBinDir() : installPostgres(this.options.version);
    }

    /** Runs a PostgreSQL tool, as the postgres user when we are root (initdb refuses root). */
    private run(tool: string, args: string[]): void {
        const bin = path.join(this.binDir(), tool);
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

    /**
     * Replaces pg_hba.conf with `lines` and reloads the server; fails if the
     * server found an error in any line (pg_hba_file_rules).
     */
    async setHba(lines: readonly string[]): Promise<void> {
        const loadTime = async () => (await this.admin<{ t: string }>("SELECT pg_conf_load_time()::text AS t"))[0].t;
        const before = await loadTime();
        fs.writeFileSync(path.join(this.dir, "data", "pg_hba.conf"), lines.join("\n") + "\n");
        await this.admin("SELECT pg_reload_conf()");
        // The postmaster reloads asynchronously; each new session sees when it last did.
        for (let i = 0; i < 100 && (await loadTime()) === before; i++) await new Promise((r) => setTimeout(r, 100));
        const errors = await this.admin<{ line_number: number; error: string }>(
            "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL",
        );
        if (errors.length > 0) throw new Error(`pg_hba.conf: ${errors.map((e) => `line ${e.line_number}: ${e.error}`).join("; ")}`);
    }

    /** Stack config of this cluster as shared server: plain text, the superuser as admin, plus `extra`. */
    serverConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
        return { host: "127.0.0.1", port: this.port, sslmode: "disable", admin: { username: this.adminUser, superuser: true }, ...extra };
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

/** What pg_roles says of every app role: no power beyond its own database. */
export const NO_ROLE_POWERS = {
    rolsuper: false,
    rolcreaterole: false,
    rolcreatedb: false,
    rolreplication: false,
    rolbypassrls: false,
} as const;

/** Connects with a libpq URL; the caller ends the client. */
export async function connectUrl(url: string): Promise<Client> {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    await client.connect();
    return client;
}

/**
 * Connects with a libpq URL from a given loopback source address (127.0.0.2
 * reaches a server on 127.0.0.1 from another address, as far as pg_hba.conf
 * is concerned); the caller ends the client.
 */
export async function connectUrlFrom(url: string, localAddress: string): Promise<Client> {
    const client = new Client({
        connectionString: url,
        connectionTimeoutMillis: 10_000,
        stream: () => {
            const socket = new net.Socket();
            const connect = socket.connect.bind(socket) as (options: net.TcpSocketConnectOpts) => net.Socket;
            // node-postgres calls connect(port, host): bind the source address on the way.
            (socket as unknown as { connect: (port: number, host: string) => net.Socket }).connect = (port, host) =>
                connect({ port, host, localAddress });
            return socket;
        },
    });
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
