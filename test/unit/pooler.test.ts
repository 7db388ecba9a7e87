import { describe, expect, it } from "vitest";
import { ConfigError, parseStackConfig } from "../../program/config";
import { appPool, authFile, pgbouncerIni } from "../../components/poolerPlan";
import { tarOf } from "../../components/poolerConfig";
import { resolvePgBouncerArgs, serverIdleTimeoutSeconds } from "../../components/pgbouncer";
import { loginOf, pooledBudgetRows, serverPools } from "../../program/pooler";
import { budgetArgs, checkBudgets } from "../../program/stack";
import { computeBudget, formatBudget } from "../../components/connectionBudget";
import { baseConfig } from "../badInputs";

function pooled(mutate: (c: any) => void = () => {}) {
    const config = baseConfig();
    config.servers.lab.pooler = {};
    mutate(config);
    return config;
}

/** The config's problems; none when it parses (the assertions then fail on what is missing). */
function issuesOf(config: any): readonly { path: string; message: string }[] {
    try {
        return parseStackConfig(config) && [];
    } catch (err) {
        return (err as ConfigError).issues;
    }
}

describe("servers.<name>.pooler config", () => {
    it("fills in the defaults: transaction mode, one instance, 1000 clients, 127.0.0.1:6432", () => {
        const config = parseStackConfig(pooled());
        expect(config.servers.lab.pooler).toEqual({
            mode: "transaction",
            instances: 1,
            maxClientConnections: 1000,
            listenAddress: "127.0.0.1",
            hostPort: 6432,
            reservePoolSize: 0,
            image: "app-databases/pgbouncer:1.18",
        });
    });

    it("sizes each app's pool from its runtime CONNECTION LIMIT over the instances, less the reserve", () => {
        const config = parseStackConfig(pooled((c) => Object.assign(c.servers.lab.pooler, { instances: 2, reservePoolSize: 1 })));
        const pools = serverPools("lab", config.servers.lab, config.apps);
        expect(pools.map((p) => [p.app, p.runtimeRole, p.poolSize, p.perInstance, p.serverConnections])).toEqual([
            ["claude_bridge", "claude_bridge_app", 4, 5, 10],
            ["grafana", "grafana_app", 4, 5, 10],
        ]);
    });

    it.each([
        [
            "an unknown mode",
            (c: any) => (c.servers.lab.pooler.mode = "statement"),
            "servers.lab.pooler.mode",
            'expected one of transaction, session, got "statement"',
        ],
        [
            "no instances",
            (c: any) => (c.servers.lab.pooler.instances = 0),
            "servers.lab.pooler.instances",
            "expected a number of pooler instances from 1 to 16, got 0",
        ],
        [
            "a listen address that is no IP",
            (c: any) => (c.servers.lab.pooler.listenAddress = "anywhere"),
            "servers.lab.pooler.listenAddress",
            'expected an IP address to listen on, such as "127.0.0.1" or "0.0.0.0", got "anywhere"',
        ],
        ["an unknown key", (c: any) => (c.servers.lab.pooler.poolMode = "session"), "servers.lab.pooler.poolMode", "unknown key poolMode"],
        [
            "a pool size over a runtime role's limit",
            (c: any) => (c.servers.lab.pooler.poolSize = 11),
            "servers.lab.pooler.poolSize",
            "grafana: 1 instance × (pool 11 + reserve 0) = 11 server connections for grafana_app, over its CONNECTION LIMIT 10: lower poolSize to at most 10, or raise the app's connectionLimit to 11",
        ],
        [
            "a limit that leaves no pool for the instances",
            (c: any) => Object.assign(c.servers.lab.pooler, { instances: 4, reservePoolSize: 2 }),
            "apps.grafana.connectionLimit",
            "grafana: grafana_app's CONNECTION LIMIT 10 leaves no pool for 4 instances with reserve 2: raise the app's connectionLimit to at least 12, or lower instances or reservePoolSize",
        ],
        [
            "session mode with more clients than server connections",
            (c: any) => Object.assign(c.servers.lab.pooler, { mode: "session", maxClientConnections: 21 }),
            "servers.lab.pooler.maxClientConnections",
            "session mode holds a server connection per client: expected at most 20 (the pools' server connections per instance), got 21; lower it, or use mode transaction",
        ],
        [
            "a port of a local server",
            (c: any) => Object.assign(c.servers.lab, { host: "127.0.0.1", pooler: { hostPort: 5432 } }),
            "servers.lab.pooler.hostPort",
            "port 5432 is also used by servers.lab.port; set a different servers.lab.pooler.hostPort",
        ],
        [
            "a port of a dedicated app's container",
            (c: any) => {
                c.dedicated = { publishPort: true };
                c.apps.wiki = { placement: "dedicated", dedicated: { hostPort: 6432 } };
            },
            "servers.lab.pooler.hostPort",
            "port 6432 is also used by apps.wiki.dedicated.hostPort; set a different servers.lab.pooler.hostPort",
        ],
        [
            "a server whose certificate is verified",
            (c: any) => Object.assign(c.servers.lab, { sslmode: "verify-full", sslrootcert: "system" }),
            "servers.lab.pooler",
            "the pooler cannot verify the server's certificate (sslmode verify-full)",
        ],
    ])("refuses %s, naming the field", (_case, mutate, path, message) => {
        const issues = issuesOf(pooled(mutate));
        expect(issues).toContainEqual({ path, message: expect.stringContaining(message) });
    });

    it("accepts session mode when every client has a server connection", () => {
        const config = parseStackConfig(pooled((c) => Object.assign(c.servers.lab.pooler, { mode: "session", maxClientConnections: 20 })));
        expect(config.servers.lab.pooler?.mode).toBe("session");
    });
});

describe("a pooler the user already runs (pooler.existing)", () => {
    const existing = (more: Record<string, unknown> = {}) =>
        pooled((c) => Object.assign(c.servers.lab.pooler, { existing: { host: "pool.lab" }, ...more }));

    it("is declared by its address, the deployed pooler's keys left out", () => {
        const config = parseStackConfig(existing({ instances: 2 }));
        expect(config.servers.lab.pooler?.existing).toEqual({ host: "pool.lab", port: 6432, sslmode: "disable" });
        expect(config.servers.lab.pooler?.instances).toBe(2);
    });

    it.each(["hostPort", "listenAddress", "image", "maxClientConnections"])("refuses %s beside it, naming the key", (key) => {
        const value = { hostPort: 7000, listenAddress: "0.0.0.0", image: "pgbouncer:1.18", maxClientConnections: 10 }[key];
        expect(issuesOf(existing({ [key]: value }))).toContainEqual({
            path: `servers.lab.pooler.${key}`,
            message: `${key} configures a pooler the stack deploys, and existing declares one it does not: remove ${key}, or remove existing to deploy a PgBouncer`,
        });
    });

    it("refuses an address with a port in host", () => {
        const issues = issuesOf(pooled((c) => (c.servers.lab.pooler = { existing: { host: "pool.lab:6543" } })));
        expect(issues).toContainEqual({
            path: "servers.lab.pooler.existing.host",
            message: expect.stringContaining('set host: "pool.lab" and port: 6543'),
        });
    });

    it("still checks the pools it is declared with against each runtime role's limit, and shows them in the budget", () => {
        expect(issuesOf(existing({ poolSize: 11 }))).toContainEqual({
            path: "servers.lab.pooler.poolSize",
            message: expect.stringContaining("over its CONNECTION LIMIT 10"),
        });
        const config = parseStackConfig(existing());
        const rows = computeBudget(budgetArgs(config)[0]).entries.filter((e) => e.kind === "pooler");
        expect(rows.map((r) => r.note)).toContain("1 × (pool 10 + reserve 0), existing pooler at pool.lab:6432, within grafana_app's 10");
    });

    it("leaves its port and the server's certificate to it", () => {
        const config = pooled((c) => {
            Object.assign(c.servers.lab, { sslmode: "verify-full", sslrootcert: "system", host: "127.0.0.1", port: 6432 });
            c.servers.lab.pooler.existing = { host: "127.0.0.1", port: 6432, sslmode: "require" };
        });
        expect(issuesOf(config)).toEqual([]);
    });
});

describe("the budget with a pooler", () => {
    it("shows what the pooler opens per runtime role, within that role's share, and keeps the total", () => {
        const config = parseStackConfig(pooled((c) => Object.assign(c.servers.lab.pooler, { instances: 2, reservePoolSize: 1 })));
        const [args] = budgetArgs(config);
        const report = computeBudget(args);
        const without = computeBudget({ ...args, pooled: {} });
        expect(report.total).toBe(without.total);
        const rows = report.entries.filter((e) => e.kind === "pooler");
        expect(rows).toEqual([
            {
                name: "(pooler) claude_bridge_app",
                kind: "pooler",
                connections: 10,
                counted: false,
                note: "2 × (pool 4 + reserve 1), within claude_bridge_app's 10",
            },
            {
                name: "(pooler) grafana_app",
                kind: "pooler",
                connections: 10,
                counted: false,
                note: "2 × (pool 4 + reserve 1), within grafana_app's 10",
            },
        ]);
        expect(formatBudget(report)).toMatch(
            /\(pooler\) grafana_app +pooler +\(10\) +—  2 × \(pool 4 \+ reserve 1\), within grafana_app's 10/,
        );
    });

    it("fails with the table when what the pooler opens is over the role's limit on the server", () => {
        const config = parseStackConfig(pooled());
        const [args] = budgetArgs(config);
        // The server holds grafana_app with a lower limit than the config's (liveBudget.ts notes it).
        const live = { ...args, roles: { ...args.roles, grafana_app: 6 } };
        expect(() => checkBudgets(config, [live])).toThrow(
            /\(pooler\) grafana_app[\s\S]*! the pooler opens up to 10 connections as grafana_app, over its CONNECTION LIMIT 6/,
        );
    });

    it("has the pooled rows of each pooled server only", () => {
        const config = parseStackConfig(baseConfig());
        expect(pooledBudgetRows("lab", config.servers.lab, config.apps)).toEqual({});
    });
});

describe("PgBouncer's files", () => {
    const pools = [
        appPool({ app: "wiki", database: "wiki", runtimeRole: "wiki_app", connectionLimit: 8 }, { instances: 1, reservePoolSize: 1 }),
    ];
    const settings = {
        mode: "transaction" as const,
        listenAddress: "127.0.0.1",
        port: 6432,
        maxClientConnections: 1000,
        upstream: { host: "db.lab", port: 5432, sslmode: "prefer" as const },
        serverIdleTimeoutSeconds: 300,
    };

    it("gives every database its pool and cap, and authenticates with SCRAM from the auth file", () => {
        const ini = pgbouncerIni(settings, pools);
        expect(ini).toContain("wiki = host=db.lab port=5432 dbname=wiki pool_size=7 reserve_pool=1 max_db_connections=8");
        for (const line of [
            "pool_mode = transaction",
            "max_client_conn = 1000",
            "auth_type = scram-sha-256",
            "so_reuseport = 1",
            "server_tls_sslmode = prefer",
        ])
            expect(ini).toContain(line);
    });

    it("refuses a value that would break the file", () => {
        expect(() => pgbouncerIni({ ...settings, upstream: { ...settings.upstream, host: "db lab" } }, pools)).toThrow(
            'PgBouncer: "db lab" cannot be written to pgbouncer.ini',
        );
    });

    it("quotes the auth file's names and passwords", () => {
        expect(authFile([{ name: "wiki_app", password: 'a"b' }])).toBe('"wiki_app" "a""b"\n');
    });

    it("times out idle server connections before the roles' idle_session_timeout does", () => {
        expect(serverIdleTimeoutSeconds([{ idleSessionTimeoutMs: 600_000 }, { idleSessionTimeoutMs: 120_000 }])).toBe(60);
        expect(serverIdleTimeoutSeconds([{ idleSessionTimeoutMs: 0 }])).toBe(600);
    });

    it("writes a tar the engine takes: headers with checksums, content padded to blocks", () => {
        const tar = tarOf({ "userlist.txt": "x" });
        expect(tar.length).toBe(512 + 512 + 1024);
        expect(tar.subarray(0, 12).toString()).toBe("userlist.txt");
        expect(tar.subarray(257, 262).toString()).toBe("ustar");
        const header = Buffer.from(tar.subarray(0, 512));
        const stored = parseInt(header.subarray(148, 154).toString(), 8);
        header.fill(" ", 148, 156);
        expect(stored).toBe(header.reduce((s, b) => s + b, 0));
    });

    it("refuses a pool that does not fit in the component itself", () => {
        const args = {
            server: "lab",
            stack: "dev",
            upstream: settings.upstream,
            maxClientConnections: 100,
            listenAddress: "127.0.0.1",
            port: 6432,
            poolSize: 9,
            apps: [
                {
                    app: "wiki",
                    database: "wiki",
                    runtimeRole: "wiki_app",
                    connectionLimit: 8,
                    login: { user: "wiki_app", password: "p" },
                    idleSessionTimeoutMs: 0,
                },
            ],
        };
        expect(() => resolvePgBouncerArgs(args)).toThrow(
            "PgBouncer: `apps.wiki`: 1 instance × (pool 9 + reserve 0) = 9 server connections for wiki_app",
        );
    });

    it("reads the runtime login from its URL", () => {
        expect(loginOf("postgresql://wiki_app:p%40ss@h:5432/wiki?sslmode=prefer")).toEqual({ user: "wiki_app", password: "p@ss" });
    });
});
