/**
 * Stack configuration: its schema, its defaults and its validation.
 *
 * The program reads config once, parses it here into plain typed values and
 * hands those to the components; components never read `pulumi.Config`. Every
 * problem is collected and reported at once, by its config path, before any
 * resource is declared.
 */
import { z } from "zod";
import { identifierProblem, roleNamesFor } from "./identifiers";

/** What the runtime role may do with the objects the migrate role creates. */
export const ACCESS_LEVELS = ["readwrite", "readonly", "migrations"] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];

export const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Runtime role defaults: long enough for real requests, short enough to free stuck sessions. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
export const DEFAULT_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS = 60_000;
export const DEFAULT_IDLE_SESSION_TIMEOUT_MS = 600_000;
export const DEFAULT_RUNTIME_CONNECTION_LIMIT = 10;
export const DEFAULT_MIGRATE_CONNECTION_LIMIT = 2;
export const DEFAULT_MAX_CONNECTIONS = 100;
export const DEFAULT_SUPERUSER_RESERVED_CONNECTIONS = 3;
export const DEFAULT_ADMIN_HEADROOM = 5;
/** The postgresql provider's pool size; its default of 20 has exhausted servers. */
export const DEFAULT_PROVISIONING_CONNECTIONS = 2;
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10;

const MAX_TIMEOUT_MS = 2_147_483_647; // PostgreSQL's integer GUC ceiling

const int = (min: number, max: number, what: string) =>
    z
        .number({ error: (i) => `expected ${what}, got ${describe(i.input)}` })
        .int({ error: (i) => `expected ${what}, got ${describe(i.input)}` })
        .min(min, { error: (i) => `expected ${what}, got ${describe(i.input)}` })
        .max(max, { error: (i) => `expected ${what}, got ${describe(i.input)}` });

const timeoutMs = int(0, MAX_TIMEOUT_MS, "milliseconds as an integer >= 0 (0 disables the timeout)");
const connectionLimit = int(1, 10_000, "a connection limit as an integer from 1 to 10000");
const rotation = int(0, 1_000_000, "a rotation counter as an integer >= 0 (bump it to rotate)");

const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
    z.enum(values, { error: (i) => `expected one of ${values.join(", ")}, got ${describe(i.input)}` });

const text = (what: string) =>
    z.string({ error: (i) => `expected ${what}, got ${describe(i.input)}` }).min(1, { error: `expected ${what}, got ""` });

const identifier = z
    .string({ error: (i) => `expected a name, got ${describe(i.input)}` })
    .superRefine((name, ctx) => {
        const problem = identifierProblem(name);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    });

const flag = z.boolean({ error: (i) => `expected true or false, got ${describe(i.input)}` });

const runtimeSettings = {
    /** statement_timeout of the runtime role, in ms. */
    statementTimeoutMs: timeoutMs.default(DEFAULT_STATEMENT_TIMEOUT_MS),
    /** idle_in_transaction_session_timeout of the runtime role, in ms. */
    idleInTransactionSessionTimeoutMs: timeoutMs.default(DEFAULT_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS),
    /** idle_session_timeout of the runtime role, in ms (PostgreSQL 14+). */
    idleSessionTimeoutMs: timeoutMs.default(DEFAULT_IDLE_SESSION_TIMEOUT_MS),
};

const extraRoleSchema = z.strictObject({
    access: oneOf(["readwrite", "readonly"] as const).default("readonly"),
    connectionLimit: connectionLimit.default(DEFAULT_RUNTIME_CONNECTION_LIMIT),
    rotation: rotation.default(0),
    ...runtimeSettings,
});

export const appSchema = z.strictObject({
    /** Key of the server in `servers`; may be omitted when there is only one. */
    server: identifier.optional(),
    /** Database name; defaults to the app's name. */
    database: identifier.optional(),
    access: oneOf(ACCESS_LEVELS).default("readwrite"),
    /** CONNECTION LIMIT of `<app>_app`. */
    connectionLimit: connectionLimit.default(DEFAULT_RUNTIME_CONNECTION_LIMIT),
    /** CONNECTION LIMIT of `<app>_migrate`. */
    migrateConnectionLimit: connectionLimit.default(DEFAULT_MIGRATE_CONNECTION_LIMIT),
    ...runtimeSettings,
    /** Bump a counter to give that role a new password on the next `up`. */
    rotation: z
        .strictObject({ runtime: rotation.default(0), migrate: rotation.default(0) })
        .default({ runtime: 0, migrate: 0 }),
    /** More login roles on the same database (other services, dashboards). */
    extraRoles: z.record(identifier, extraRoleSchema).default({}),
});

export const serverSchema = z.strictObject({
    host: text("a host name or IP address"),
    port: int(1, 65_535, "a TCP port from 1 to 65535").default(5432),
    sslmode: oneOf(SSL_MODES).default("prefer"),
    connectTimeoutSeconds: int(1, 300, "seconds from 1 to 300").default(DEFAULT_CONNECT_TIMEOUT_SECONDS),
    /** Database the provisioning tool connects to for server-wide statements. */
    maintenanceDatabase: text("a database name").default("postgres"),
    admin: z.strictObject({
        username: text("the admin role's name"),
        password: text("the admin password (set it with `pulumi config set --secret --path`)"),
        /** false for managed services (RDS, Cloud SQL) whose admin is not a superuser. */
        superuser: flag.default(false),
    }),
    maxConnections: int(1, 262_143, "max_connections of the server as an integer").default(DEFAULT_MAX_CONNECTIONS),
    superuserReservedConnections: int(0, 1000, "an integer >= 0").default(DEFAULT_SUPERUSER_RESERVED_CONNECTIONS),
    adminHeadroom: int(0, 10_000, "an integer >= 0").default(DEFAULT_ADMIN_HEADROOM),
    provisioningConnections: int(1, 20, "the provisioning tool's pool size, an integer from 1 to 20").default(
        DEFAULT_PROVISIONING_CONNECTIONS,
    ),
    /** Roles on the server that this program does not manage, with the connections they may take. */
    externalRoles: z.record(identifier, int(0, 10_000, "a connection count as an integer >= 0")).default({}),
    /** Parameters added to every connection URL for this server (kept over the defaults). */
    urlParameters: z.record(z.string(), z.string()).default({}),
});

export const stackConfigSchema = z.strictObject({
    servers: z.record(z.string(), z.unknown()).refine((s) => Object.keys(s).length > 0, {
        message: "expected at least one server",
    }),
    apps: z.record(z.string(), z.unknown()).default({}),
    /** Production protection: databases and roles cannot be deleted by Pulumi. */
    protect: flag.default(false),
});

export type AppConfig = z.output<typeof appSchema>;
export type ServerConfig = z.output<typeof serverSchema>;
export type ExtraRoleConfig = z.output<typeof extraRoleSchema>;

/** An app with its defaults filled in and its names resolved. */
export interface ResolvedApp extends AppConfig {
    readonly name: string;
    readonly server: string;
    readonly database: string;
}

export interface StackConfig {
    readonly servers: Readonly<Record<string, ServerConfig>>;
    readonly apps: Readonly<Record<string, ResolvedApp>>;
    readonly protect: boolean;
}

/** One problem found in the config, at a dotted config path. */
export interface ConfigIssue {
    readonly path: string;
    readonly message: string;
}

/** Thrown when the config is invalid; carries every problem found. */
export class ConfigError extends Error {
    constructor(readonly issues: readonly ConfigIssue[]) {
        super(
            `Invalid stack config (${issues.length} problem${issues.length === 1 ? "" : "s"}); nothing was applied:\n` +
                issues.map((i) => `  - ${i.path}: ${i.message}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

/**
 * Parses raw stack config into typed values, or throws a ConfigError listing
 * every problem with its path. Entries are parsed one by one so that one bad
 * app does not hide the problems of another.
 */
export function parseStackConfig(raw: unknown): StackConfig {
    const issues: ConfigIssue[] = [];
    const root = stackConfigSchema.safeParse(raw ?? {});
    if (!root.success) {
        issues.push(...zodIssues(root.error, []));
        throw new ConfigError(issues);
    }

    const servers: Record<string, ServerConfig> = {};
    for (const [key, value] of Object.entries(root.data.servers)) {
        const badKey = keyIssue("servers", key, issues);
        const parsed = serverSchema.safeParse(value);
        if (!parsed.success) issues.push(...zodIssues(parsed.error, ["servers", key]));
        else if (!badKey) servers[key] = parsed.data;
    }

    const apps: Record<string, ResolvedApp> = {};
    for (const [key, value] of Object.entries(root.data.apps)) {
        const badKey = keyIssue("apps", key, issues);
        const parsed = appSchema.safeParse(value);
        if (!parsed.success) {
            issues.push(...zodIssues(parsed.error, ["apps", key]));
            continue;
        }
        if (badKey) continue;
        const app = resolveApp(key, parsed.data, Object.keys(root.data.servers), issues);
        if (app) apps[key] = app;
    }

    issues.push(...namingIssues(apps, servers));
    if (issues.length > 0) throw new ConfigError(issues);
    return { servers, apps, protect: root.data.protect };
}

/** Records a problem with a server or app name; true when there was one. */
function keyIssue(section: string, key: string, issues: ConfigIssue[]): boolean {
    const problem = identifierProblem(key);
    if (problem) issues.push({ path: `${section}.${key}`, message: problem });
    return problem !== undefined;
}

/** Fills in an app's server and database, checking the derived role names. */
function resolveApp(name: string, app: AppConfig, serverKeys: string[], issues: ConfigIssue[]): ResolvedApp | undefined {
    let server = app.server;
    if (server === undefined) {
        if (serverKeys.length !== 1) {
            issues.push({
                path: `apps.${name}.server`,
                message: `expected one of ${serverKeys.join(", ")} (required when there is more than one server)`,
            });
            return undefined;
        }
        server = serverKeys[0];
    } else if (!serverKeys.includes(server)) {
        issues.push({
            path: `apps.${name}.server`,
            message: `expected one of the configured servers (${serverKeys.join(", ")}), got ${JSON.stringify(server)}`,
        });
        return undefined;
    }
    for (const role of Object.values(roleNamesFor(name))) {
        const problem = identifierProblem(role);
        if (problem) issues.push({ path: `apps.${name}`, message: `derived role name ${role}: ${problem}` });
    }
    return { ...app, name, server, database: app.database ?? name };
}

/** Database and role names must be unique on each server (roles are cluster-wide). */
function namingIssues(apps: Record<string, ResolvedApp>, servers: Record<string, ServerConfig>): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    const roleOwners = new Map<string, string>(); // `${server}/${role}` -> config path
    const databaseOwners = new Map<string, string>();
    const claim = (owners: Map<string, string>, server: string, name: string, path: string, kind: string) => {
        const key = `${server}/${name}`;
        const previous = owners.get(key);
        if (previous) {
            issues.push({ path, message: `${kind} ${name} on server ${server} is already used by ${previous}; names must be unique per server` });
        } else {
            owners.set(key, path);
        }
    };
    for (const [server, config] of Object.entries(servers)) {
        for (const role of Object.keys(config.externalRoles)) {
            claim(roleOwners, server, role, `servers.${server}.externalRoles.${role}`, "role");
        }
        claim(roleOwners, server, config.admin.username, `servers.${server}.admin.username`, "role");
    }
    for (const app of Object.values(apps)) {
        claim(databaseOwners, app.server, app.database, `apps.${app.name}.database`, "database");
        const roles = roleNamesFor(app.name);
        claim(roleOwners, app.server, roles.migrate, `apps.${app.name}`, "role");
        claim(roleOwners, app.server, roles.runtime, `apps.${app.name}`, "role");
        for (const role of Object.keys(app.extraRoles)) {
            claim(roleOwners, app.server, role, `apps.${app.name}.extraRoles.${role}`, "role");
        }
    }
    return issues;
}

function zodIssues(error: z.ZodError, prefix: (string | number)[]): ConfigIssue[] {
    return error.issues.map((issue) => {
        const path = [...prefix, ...issue.path.map((p) => String(p))];
        let message = issue.message;
        if (issue.code === "unrecognized_keys") {
            message = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")} (check the spelling against the README's config reference)`;
        } else if (issue.code === "invalid_key") {
            // A record key failed: report it at the key's own path.
            const inner = issue.issues[0];
            message = inner ? inner.message : message;
        }
        return { path: path.length > 0 ? path.join(".") : "(root)", message };
    });
}

function describe(value: unknown): string {
    if (value === undefined) return "nothing";
    if (typeof value === "string") return JSON.stringify(value);
    if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
    return Array.isArray(value) ? "a list" : `an ${typeof value}`;
}
