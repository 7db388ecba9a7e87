/**
 * Invalid stack configs, shared by the unit tests (parseStackConfig) and the
 * end-to-end tests (a real `pulumi preview`): each breaks one thing in a copy
 * of a valid config and names the config path and message the user must see.
 */
import { ConfigError, parseStackConfig } from "../program/config";

/** A valid config; each bad-input case below breaks one thing in a copy of it. */
export function baseConfig(host = "192.168.1.123", port = 5432): any {
    return {
        servers: {
            lab: {
                host,
                port,
                admin: { username: "pulumi_admin", password: "s3cret" },
                externalRoles: { grafana_ro: 5 },
            },
        },
        apps: {
            grafana: { connectionLimit: 10 },
            claude_bridge: { access: "migrations", extraRoles: { bridge_ro: { access: "readonly", connectionLimit: 2 } } },
        },
        protect: false,
    };
}

/** The issues parseStackConfig reports for a config it must reject (throws when it takes it). */
export function issuesOfConfig(config: unknown): ConfigError["issues"] {
    try {
        parseStackConfig(config);
    } catch (err) {
        if (err instanceof ConfigError) return err.issues;
        throw err;
    }
    throw new Error("expected the config to be rejected");
}

/** The bad-input matrix: [case, mutation, config path, message fragment]. */
export const badInputs: [string, (c: any) => void, string, string][] = [
    ["no servers at all for shared apps", (c) => delete c.servers, "apps.grafana.server", "no servers are configured for shared placement"],
    ["a list as servers", (c) => (c.servers = ["lab"]), "servers", "expected"],
    ["a server without host", (c) => delete c.servers.lab.host, "servers.lab.host", "expected a host name or IP address"],
    ["a numeric host", (c) => (c.servers.lab.host = 12), "servers.lab.host", "got 12"],
    [
        "a host with a port",
        (c) => (c.servers.lab.host = "db.lab:5433"),
        "servers.lab.host",
        'without a port, got "db.lab:5433"; set host: "db.lab" and port: 5433',
    ],
    ["an IPv6 host with a port", (c) => (c.servers.lab.host = "[::1]:5432"), "servers.lab.host", 'set host: "::1" and port: 5432'],
    ["a port out of range", (c) => (c.servers.lab.port = 70000), "servers.lab.port", "expected a TCP port from 1 to 65535, got 70000"],
    ["a port as text", (c) => (c.servers.lab.port = "5432x"), "servers.lab.port", 'got "5432x"'],
    [
        "an unknown sslmode",
        (c) => (c.servers.lab.sslmode = "on"),
        "servers.lab.sslmode",
        'expected one of disable, allow, prefer, require, verify-ca, verify-full, got "on"',
    ],
    ["no admin block", (c) => delete c.servers.lab.admin, "servers.lab.admin", "expected"],
    ["no admin password", (c) => delete c.servers.lab.admin.password, "servers.lab.admin.password", "pulumi config set --secret --path"],
    ["an empty admin password", (c) => (c.servers.lab.admin.password = ""), "servers.lab.admin.password", 'got ""'],
    [
        "superuser as text",
        (c) => (c.servers.lab.admin.superuser = "yes"),
        "servers.lab.admin.superuser",
        'expected true or false, got "yes"',
    ],
    [
        "a negative reserved count",
        (c) => (c.servers.lab.superuserReservedConnections = -1),
        "servers.lab.superuserReservedConnections",
        "got -1",
    ],
    ["a fractional max_connections", (c) => (c.servers.lab.maxConnections = 99.5), "servers.lab.maxConnections", "got 99.5"],
    [
        "a provisioning pool of 50",
        (c) => (c.servers.lab.provisioningConnections = 50),
        "servers.lab.provisioningConnections",
        "from 1 to 20, got 50",
    ],
    ["an unknown server key", (c) => (c.servers.lab.hots = "x"), "servers.lab.hots", "unknown key hots; did you mean host?"],
    ["a misspelt stack key", (c) => (c.server = c.servers), "server", "unknown key server; did you mean servers?"],
    ["an unknown stack key", (c) => (c.zzz = 1), "zzz", "unknown key zzz; expected one of servers, apps, placement"],
    [
        "an external role with a bad name",
        (c) => (c.servers.lab.externalRoles["Grafana-RO"] = 5),
        "servers.lab.externalRoles.Grafana-RO",
        "plain PostgreSQL identifier",
    ],
    ["an app name with uppercase", (c) => (c.apps.Grafana = {}), "apps.Grafana", "plain PostgreSQL identifier"],
    ["an app name with a hyphen", (c) => (c.apps["claude-bridge"] = {}), "apps.claude-bridge", 'got "claude-bridge"; try claude_bridge'],
    [
        "an admin username that needs quoting",
        (c) => (c.servers.lab.admin.username = "pulumi'admin"),
        "servers.lab.admin.username",
        "plain PostgreSQL identifier",
    ],
    ["a retired app that is not a name", (c) => (c.retiredApps = ["old-app"]), "retiredApps.0", "try old_app"],
    [
        "both an admin password and a password file",
        (c) => (c.servers.lab.admin.passwordFile = ".dev/admin-password"),
        "servers.lab.admin.passwordFile",
        "expected either password or passwordFile, got both",
    ],
    [
        "an injection attempt as app name",
        (c) => (c.apps['x"; DROP DATABASE grafana; --'] = {}),
        'apps.x"; DROP DATABASE grafana; --',
        "plain PostgreSQL identifier",
    ],
    [
        "an injection attempt as database name",
        (c) => (c.apps.grafana.database = "grafana; DROP ROLE postgres"),
        "apps.grafana.database",
        "plain PostgreSQL identifier",
    ],
    ["the postgres database", (c) => (c.apps.grafana.database = "postgres"), "apps.grafana.database", "system name"],
    ["a template database", (c) => (c.apps.grafana.database = "template1"), "apps.grafana.database", "system name"],
    ["a pg_ prefix", (c) => (c.apps.pg_stats = {}), "apps.pg_stats", "pg_ prefix is reserved"],
    ["a reserved keyword", (c) => (c.apps.grafana.database = "select"), "apps.grafana.database", "reserved SQL keyword"],
    ["a name over 63 bytes", (c) => (c.apps.grafana.database = "d".repeat(64)), "apps.grafana.database", "at most 63 bytes, got 64"],
    ["an app whose derived role name is too long", (c) => (c.apps["a".repeat(60)] = {}), "apps." + "a".repeat(60), "derived role name"],
    [
        "an unknown access level",
        (c) => (c.apps.grafana.access = "admin"),
        "apps.grafana.access",
        'expected one of readwrite, readonly, migrations, got "admin"',
    ],
    ["a zero connection limit", (c) => (c.apps.grafana.connectionLimit = 0), "apps.grafana.connectionLimit", "from 1 to 10000, got 0"],
    ["a negative statement timeout", (c) => (c.apps.grafana.statementTimeoutMs = -5), "apps.grafana.statementTimeoutMs", "got -5"],
    [
        "a timeout as a duration string",
        (c) => (c.apps.grafana.idleSessionTimeoutMs = "10min"),
        "apps.grafana.idleSessionTimeoutMs",
        'got "10min"',
    ],
    ["a negative rotation", (c) => (c.apps.grafana.rotation = { runtime: -1 }), "apps.grafana.rotation.runtime", "got -1"],
    [
        "an unknown app key (typo)",
        (c) => (c.apps.grafana.conectionLimit = 5),
        "apps.grafana.conectionLimit",
        "unknown key conectionLimit; did you mean connectionLimit?",
    ],
    [
        "a misspelt dedicated key",
        (c) => (c.apps.grafana = { placement: "dedicated", dedicated: { verison: "16" } }),
        "apps.grafana.dedicated.verison",
        "did you mean version?",
    ],
    [
        "a misspelt extra role key",
        (c) => (c.apps.claude_bridge.extraRoles.bridge_ro.acess = "readonly"),
        "apps.claude_bridge.extraRoles.bridge_ro.acess",
        "did you mean access?",
    ],
    ["a server that does not exist", (c) => (c.apps.grafana.server = "nas"), "apps.grafana.server", 'configured servers (lab), got "nas"'],
    [
        "no server with two servers",
        (c) => (c.servers.other = { ...c.servers.lab, externalRoles: {} }),
        "apps.grafana.server",
        "required when there is more than one server",
    ],
    [
        "two apps on one database",
        (c) => (c.apps.claude_bridge.database = "grafana"),
        "apps.grafana.database",
        "database grafana on server lab is already used by apps.claude_bridge.database",
    ],
    [
        "an extra role clashing with a derived role",
        (c) => (c.apps.claude_bridge.extraRoles = { grafana_app: {} }),
        "apps.claude_bridge.extraRoles.grafana_app",
        "role grafana_app on server lab is already used by apps.grafana",
    ],
    [
        "an extra role named like an external role",
        (c) => (c.apps.grafana.extraRoles = { grafana_ro: {} }),
        "apps.grafana.extraRoles.grafana_ro",
        "already used by servers.lab.externalRoles.grafana_ro",
    ],
    [
        "an extra role with migrations access",
        (c) => (c.apps.grafana.extraRoles = { viewer: { access: "migrations" } }),
        "apps.grafana.extraRoles.viewer.access",
        "expected one of readwrite, readonly",
    ],
    [
        "an extra role's schema the app does not list",
        (c) => (c.apps.claude_bridge.extraRoles.bridge_ro.schemas = ["billing"]),
        "apps.claude_bridge.extraRoles.bridge_ro.schemas",
        'expected schemas among the app\'s schemas (public), got "billing"',
    ],
    [
        "runtime schemas outside the app's",
        (c) => {
            c.apps.grafana.schemas = ["dash", "public"];
            c.apps.grafana.runtimeSchemas = ["dash", "audit"];
        },
        "apps.grafana.runtimeSchemas",
        'expected schemas among the app\'s schemas (dash, public), got "audit"',
    ],
    ["an empty runtime schema list", (c) => (c.apps.grafana.runtimeSchemas = []), "apps.grafana.runtimeSchemas", "expected"],
    ["a search_path entry that is not a name", (c) => (c.apps.grafana.searchPath = ["dash; DROP"]), "apps.grafana.searchPath", "expected"],
    ["protect as text", (c) => (c.protect = "yes"), "protect", 'expected true or false, got "yes"'],
    ["apps as a list", (c) => (c.apps = ["grafana"]), "apps", "expected"],
    // Placement
    ["an unknown stack placement", (c) => (c.placement = "container"), "placement", 'expected one of shared, dedicated, got "container"'],
    [
        "an unknown app placement",
        (c) => (c.apps.grafana.placement = "k8s"),
        "apps.grafana.placement",
        'expected one of shared, dedicated, got "k8s"',
    ],
    [
        "a server on a dedicated app",
        (c) => Object.assign(c.apps.grafana, { placement: "dedicated", server: "lab" }),
        "apps.grafana.server",
        "applies to shared placement only",
    ],
    [
        "dedicated settings on a shared app",
        (c) => (c.apps.grafana.dedicated = { version: "16" }),
        "apps.grafana.dedicated",
        "applies to dedicated placement only",
    ],
    [
        "a version that is not a version",
        (c) => Object.assign(c.apps.grafana, { placement: "dedicated", dedicated: { version: "latest" } }),
        "apps.grafana.dedicated.version",
        'expected a PostgreSQL major version as text, one of 14, 15, 16, 17, 18, got "latest"',
    ],
    [
        "a minor release as the version",
        (c) => (c.dedicated = { version: "15.2" }),
        "dedicated.version",
        'expected a major version such as "15", not a minor release, got "15.2"',
    ],
    [
        "a major the image recipe does not build",
        (c) => Object.assign(c.apps.grafana, { placement: "dedicated", dedicated: { version: "19" } }),
        "apps.grafana.dedicated.version",
        'one of 14, 15, 16, 17, 18 (the majors the image recipe builds), got "19"',
    ],
    [
        "a version too old for idle_session_timeout",
        (c) => (c.dedicated = { version: "13" }),
        "dedicated.version",
        'PostgreSQL 14 or newer (idle_session_timeout), got "13"',
    ],
    [
        "a version as a number with a minor",
        (c) => (c.dedicated = { version: 15.2 }),
        "dedicated.version",
        'not a minor release, got "15.2"',
    ],
    [
        "an image name with spaces",
        (c) => (c.dedicated = { image: "postgres 16" }),
        "dedicated.image",
        'expected a Docker image reference such as "postgres:{version}-alpine"',
    ],
    [
        "verify-full without a CA certificate",
        (c) => (c.servers.lab.sslmode = "verify-full"),
        "servers.lab.sslrootcert",
        "with sslmode verify-full, got nothing",
    ],
    [
        "a CA certificate file that does not exist",
        (c) => Object.assign(c.servers.lab, { sslmode: "verify-full", sslrootcert: "/nonexistent/lab-ca.pem" }),
        "servers.lab.sslrootcert",
        'got "/nonexistent/lab-ca.pem", which does not exist here',
    ],
    [
        "a client certificate without its key",
        (c) => (c.servers.lab.admin.sslcert = "/etc/hostname"),
        "servers.lab.admin.sslkey",
        "expected a client certificate and its key together",
    ],
    [
        "an image name with uppercase",
        (c) => Object.assign(c.apps.grafana, { placement: "dedicated", dedicated: { image: "Postgres:16" } }),
        "apps.grafana.dedicated.image",
        "expected a Docker image reference",
    ],
    [
        "a host port below 1024",
        (c) => Object.assign(c.apps.grafana, { placement: "dedicated", dedicated: { hostPort: 80 } }),
        "apps.grafana.dedicated.hostPort",
        "from 1024 to 65535, got 80",
    ],
    [
        "two dedicated apps on one host port",
        (c) => {
            c.dedicated = { publishPort: true };
            c.apps.grafana = { placement: "dedicated", dedicated: { hostPort: 56001 } };
            c.apps.claude_bridge = { placement: "dedicated", dedicated: { hostPort: 56001 } };
        },
        "apps.grafana.dedicated.hostPort",
        "host port 56001 is also used by apps.claude_bridge.dedicated.hostPort",
    ],
    [
        "a host port taken by a local shared server",
        (c) => {
            c.servers.lab.host = "127.0.0.1";
            c.servers.lab.port = 55432;
            c.dedicated = { publishPort: true };
            c.apps.grafana = { placement: "dedicated", dedicated: { hostPort: 55432 } };
        },
        "apps.grafana.dedicated.hostPort",
        "also used by servers.lab.port",
    ],
    [
        "a tuning value with a quote",
        (c) => (c.dedicated = { settings: { work_mem: "4MB' -c x=y" } }),
        "dedicated.settings.work_mem",
        "plain setting value",
    ],
    ["a memory limit of 10 MB", (c) => (c.dedicated = { memoryMb: 10 }), "dedicated.memoryMb", "at least 64, got 10"],
];
