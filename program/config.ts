/**
 * Stack configuration: its schema, its defaults and its validation.
 *
 * The program reads config once, parses it here into plain typed values and
 * hands those to the components; components never read `pulumi.Config`. Every
 * problem is collected and reported at once, by its config path, before any
 * resource is declared.
 */
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { resolve as resolvePath } from "node:path";
import { z } from "zod";
import {
    ACCESS_LEVELS,
    DEFAULT_ACCESS_LEVEL,
    DEFAULT_ADMIN_HEADROOM,
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_DEDICATED_MEMORY_MB,
    DEFAULT_EXTRA_ROLE_ACCESS_LEVEL,
    DEFAULT_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS,
    DEFAULT_IDLE_SESSION_TIMEOUT_MS,
    DEFAULT_LOCK_TIMEOUT_MS,
    DEFAULT_MAINTENANCE_DATABASE,
    DEFAULT_MAX_LOCK_WAIT_SECONDS,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MIGRATE_CONNECTION_LIMIT,
    DEFAULT_MOVE_WRITERS,
    DEFAULT_PORT,
    DEFAULT_PROVISIONING_CONNECTIONS,
    DEFAULT_RUNTIME_CONNECTION_LIMIT,
    DEFAULT_SSL_MODE,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    DEFAULT_SUPERUSER_RESERVED_CONNECTIONS,
    describeValue as describe,
    EXTRA_ROLE_ACCESS_LEVELS,
    IntRange,
    MOVE_WRITERS,
    RANGES,
    SSL_MODES,
} from "../components/defaults";
import { existingRoleProblem, identifierProblem, roleListFor, schemasProblem } from "../components/identifiers";
import { roleSchemasProblem } from "../components/schemaPrivileges";
import {
    DEFAULT_POOLER_IMAGE,
    DEFAULT_POOLER_INSTANCES,
    DEFAULT_POOLER_LISTEN_ADDRESS,
    DEFAULT_POOLER_MAX_CLIENT_CONNECTIONS,
    DEFAULT_POOLER_PORT,
    DEFAULT_RESERVE_POOL_SIZE,
    POOL_MODES,
    POOLER_RANGES,
} from "../components/poolerPlan";
import { footprintOf } from "./footprint";
import { poolerIssues } from "./pooler";
import { nearestName } from "./nearest";
import { BackupPlan, resolveBackup } from "./backupConfig";

/** An integer in one of the library's ranges: the components accept the same. */
const int = ({ min, max, what }: IntRange) =>
    z
        .number({ error: (i) => `expected ${what}, got ${describe(i.input)}` })
        .int({ error: (i) => `expected ${what}, got ${describe(i.input)}` })
        .min(min, { error: (i) => `expected ${what}, got ${describe(i.input)}` })
        .max(max, { error: (i) => `expected ${what}, got ${describe(i.input)}` });

const timeoutMs = int(RANGES.timeoutMs);
const connectionLimit = int(RANGES.connectionLimit);
const rotation = int(RANGES.rotation);

const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
    z.enum(values, { error: (i) => `expected one of ${values.join(", ")}, got ${describe(i.input)}` });

const text = (what: string) =>
    z.string({ error: (i) => `expected ${what}, got ${describe(i.input)}` }).min(1, { error: `expected ${what}, got ""` });

const identifier = z.string({ error: (i) => `expected a name, got ${describe(i.input)}` }).superRefine((name, ctx) => {
    const problem = identifierProblem(name);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** An existing role's name (the admin): may be a system name such as postgres, still sent unquoted. */
const existingRole = z.string({ error: (i) => `expected a role name, got ${describe(i.input)}` }).superRefine((name, ctx) => {
    const problem = existingRoleProblem(name);
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

/** A list of schema names (`public` included). */
const schemaList = z
    .array(z.string({ error: (i) => `expected a schema name, got ${describe(i.input)}` }), {
        error: (i) => `expected a list of schema names, got ${describe(i.input)}`,
    })
    .superRefine((schemas, ctx) => {
        const problem = schemasProblem(schemas);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    });

const extraRoleSchema = z.strictObject({
    access: oneOf(EXTRA_ROLE_ACCESS_LEVELS).default(DEFAULT_EXTRA_ROLE_ACCESS_LEVEL),
    connectionLimit: connectionLimit.default(DEFAULT_RUNTIME_CONNECTION_LIMIT),
    rotation: rotation.default(0),
    ...runtimeSettings,
    /** Member of `<app>_migrate`: the service runs its own migrations (ALTER what the migrate role owns). */
    runsMigrations: flag.default(false),
    /** The schemas this role reaches: some of the app's `schemas`; all of them when omitted. */
    schemas: schemaList.optional(),
});

const ADOPTED_PASSWORD_EXPECTED =
    "expected how to handle the role's password: password (secret, kept as is), passwordFile (its first line, kept), or newPassword: true (a generated one replaces it)";

/** An existing role taken over: its password is kept when supplied, replaced only when asked. */
const adoptedRoleSchema = z
    .strictObject(
        {
            password: text("the role's current password").optional(),
            passwordFile: text("a path to a file holding the role's current password").optional(),
            newPassword: z
                .literal(true, { error: (i) => `expected true (omit it to keep a supplied password), got ${describe(i.input)}` })
                .optional(),
        },
        { error: (i) => `${ADOPTED_PASSWORD_EXPECTED}, got ${describe(i.input)}` },
    )
    .superRefine((role, ctx) => {
        const given = [role.password, role.passwordFile, role.newPassword].filter((v) => v !== undefined).length;
        if (given === 0) ctx.addIssue({ code: "custom", message: `${ADOPTED_PASSWORD_EXPECTED}, got none of them` });
        if (given > 1)
            ctx.addIssue({ code: "custom", message: "expected one of password, passwordFile or newPassword, got more than one" });
    });

/** What of an app exists on its server already (shared placement). */
const adoptSchema = z.strictObject({
    /** The database exists with its data: given to the migrate role, never created or dropped. */
    database: flag.default(false),
    /** The app's roles (migrate, runtime or extra) that exist, each with how its password is handled. */
    roles: z.record(identifier, adoptedRoleSchema).default({}),
    /** Move these schemas' objects, owned by `from` (default: the server's admin), to the migrate role. */
    moveObjects: z
        .strictObject({
            schemas: schemaList,
            from: z.array(existingRole).min(1, { error: "expected at least one role whose objects move" }).optional(),
            /** How long one owner change waits for its lock (services' reads of that object queue that long at most). */
            lockTimeoutMs: int(RANGES.lockTimeoutMs).default(DEFAULT_LOCK_TIMEOUT_MS),
            /** How long locked objects are retried before the step stops naming the sessions in the way. */
            maxWaitSeconds: int(RANGES.maxLockWaitSeconds).default(DEFAULT_MAX_LOCK_WAIT_SECONDS),
        })
        .optional(),
    /** Roles outside the app that keep CONNECT on the database when PUBLIC loses it. */
    keepConnect: z.array(identifier).default([]),
});

export const PLACEMENTS = ["shared", "dedicated"] as const;
export type Placement = (typeof PLACEMENTS)[number];

/** Default image of a dedicated server; `{version}` is replaced by the app's version. */
export const DEFAULT_DEDICATED_IMAGE = "postgres:{version}-alpine";
export const DEFAULT_DEDICATED_VERSION = "16";
/** Derived host ports of dedicated servers fall in [base, base + span). */
export const DERIVED_PORT_BASE = 56_000;
export const DERIVED_PORT_SPAN = 4_000;
/** The oldest PostgreSQL with every setting this program sets (idle_session_timeout). */
export const MIN_POSTGRES_MAJOR = 14;

/** A Docker image reference: [registry[:port]/]path[:tag][@digest], with an optional `{version}`. */
const IMAGE_REFERENCE =
    /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::(?:[\w][\w.-]{0,127}|[\w.-]*\{version\}[\w.-]*))?(?:@sha256:[a-f0-9]{64})?$/;

/** The PostgreSQL majors the image recipe builds (scripts/postgres-image.sh; a unit test keeps them in step). */
export const KNOWN_POSTGRES_MAJORS = ["14", "15", "16", "17", "18"] as const;

const VERSION_EXPECTED = `expected a PostgreSQL major version as text, one of ${KNOWN_POSTGRES_MAJORS.join(", ")}`;

/**
 * A major version as text. A number (what `pulumi config set --path ... 16`
 * stores) is read as its text; a minor such as "15.2" is refused: the image
 * tag and the data directory follow the major, and a minor tag may not exist.
 */
const postgresVersion = z.preprocess(
    (v) => (typeof v === "number" ? String(v) : v),
    z.string({ error: (i) => `${VERSION_EXPECTED}, got ${describe(i.input)}` }).superRefine((v, ctx) => {
        const m = /^(\d+)(\.\d+)*$/.exec(v);
        let message: string | undefined;
        if (!m) message = `${VERSION_EXPECTED}, got ${JSON.stringify(v)}`;
        else if (Number(m[1]) < MIN_POSTGRES_MAJOR)
            message = `expected PostgreSQL ${MIN_POSTGRES_MAJOR} or newer (idle_session_timeout), got ${JSON.stringify(v)}`;
        else if (m[2] !== undefined)
            message = `expected a major version such as ${JSON.stringify(m[1])}, not a minor release, got ${JSON.stringify(v)} (the image follows the major's latest minor)`;
        else if (!(KNOWN_POSTGRES_MAJORS as readonly string[]).includes(v))
            message = `${VERSION_EXPECTED} (the majors the image recipe builds), got ${JSON.stringify(v)}`;
        if (message) ctx.addIssue({ code: "custom", message });
    }),
);

const imageName = z.string({ error: (i) => `expected a Docker image reference, got ${describe(i.input)}` }).superRefine((v, ctx) => {
    if (!IMAGE_REFERENCE.test(v)) {
        ctx.addIssue({
            code: "custom",
            message: `expected a Docker image reference such as "postgres:{version}-alpine" or "registry.lab:5000/postgres:16", got ${JSON.stringify(v)}`,
        });
    }
});

/** An IPv4 or IPv6 network in CIDR notation, as pg_hba.conf takes it. */
const cidr = z.string({ error: (i) => `expected a network in CIDR notation, got ${describe(i.input)}` }).superRefine((v, ctx) => {
    const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(v);
    const family = m ? isIP(m[1]) : 0;
    const ok = m && family !== 0 && Number(m[2]) <= (family === 4 ? 32 : 128);
    if (!ok)
        ctx.addIssue({ code: "custom", message: `expected a network in CIDR notation such as "10.42.0.0/16", got ${JSON.stringify(v)}` });
});

const settingName = z
    .string()
    .regex(/^[a-z_][a-z0-9_.]*$/, { error: (i) => `expected a PostgreSQL setting name, got ${describe(i.input)}` });
const settingValue = z
    .string({ error: (i) => `expected the setting's value as text, e.g. "256MB", got ${describe(i.input)}` })
    .regex(/^[A-Za-z0-9_.:-]+$/, {
        error: (i) => `expected a plain setting value (letters, digits, . _ : -), got ${describe(i.input)}`,
    });

/** Stack-wide defaults of dedicated servers; each app may override them. */
export const dedicatedDefaultsSchema = z.strictObject({
    image: imageName.default(DEFAULT_DEDICATED_IMAGE),
    version: postgresVersion.default(DEFAULT_DEDICATED_VERSION),
    memoryMb: int(RANGES.memoryMb).default(DEFAULT_DEDICATED_MEMORY_MB),
    /** Publish each server's port on 127.0.0.1 (dev). Prod stacks publish none. */
    publishPort: flag.default(false),
    superuserReservedConnections: int(RANGES.superuserReservedConnections).default(DEFAULT_SUPERUSER_RESERVED_CONNECTIONS),
    adminHeadroom: int(RANGES.adminHeadroom).default(DEFAULT_ADMIN_HEADROOM),
    provisioningConnections: int(RANGES.provisioningConnections).default(DEFAULT_PROVISIONING_CONNECTIONS),
    /** Extra `-c` settings for every dedicated server. */
    settings: z.record(settingName, settingValue).default({}),
});

const dedicatedAppSchema = z.strictObject({
    image: imageName.optional(),
    version: postgresVersion.optional(),
    memoryMb: int(RANGES.memoryMb).optional(),
    /** Host port on 127.0.0.1 when ports are published; derived from the app's name when omitted. */
    hostPort: int(RANGES.hostPort).optional(),
    /** max_connections; sized from the app's ConnectionBudget when omitted. */
    maxConnections: int(RANGES.maxConnections).optional(),
    /** `-c` settings that win over the computed tuning. */
    settings: z.record(settingName, settingValue).default({}),
    /**
     * Lets one `up` go on when the server's data volume is missing or empty
     * where the last `up` left data: the app gets an empty server (dedicatedState.ts).
     */
    acceptEmptyData: flag.default(false),
});

export const appSchema = z
    .strictObject({
        /** `shared` (a server in `servers`) or `dedicated` (a container of its own); the stack's `placement` when omitted. */
        placement: oneOf(PLACEMENTS).optional(),
        /** Key of the server in `servers` (shared placement); may be omitted when there is only one. */
        server: identifier.optional(),
        /** Overrides of the stack's `dedicated` defaults (dedicated placement). */
        dedicated: dedicatedAppSchema.optional(),
        /** Networks this app connects from (pg_hba lines); the server's clientCidrs when omitted. */
        clientCidrs: z.array(cidr).optional(),
        /** Acknowledges moving the app away from this server: the up copies its data, the old database is kept until this is removed. */
        allowMoveFrom: text("the server key the app moves away from").optional(),
        /** During a move: `cutover` blocks the app's logins on the old database before the snapshot, `keep` copies while it stays writable. */
        moveWriters: oneOf(MOVE_WRITERS).default(DEFAULT_MOVE_WRITERS),
        /** Database name; defaults to the app's name. */
        database: identifier.optional(),
        /** Other names for the app's roles, e.g. an existing owner role to adopt; `<app>_migrate` and `<app>_app` when omitted. */
        roles: z.strictObject({ migrate: identifier.optional(), runtime: identifier.optional() }).default({}),
        /** The schemas the app's roles use (USAGE, privileges, search_path); `public` when omitted. */
        schemas: schemaList.default(["public"]),
        /** The schemas `<app>_app` reaches: some of `schemas`; all of them when omitted. */
        runtimeSchemas: schemaList.optional(),
        /** The search_path of every app role in its database, as it is; each role's schemas, then `public`, when omitted. */
        searchPath: schemaList.optional(),
        /** What exists on the server already and is taken over instead of created (shared placement). */
        adopt: adoptSchema.optional(),
        /** New functions are not executable by PUBLIC: readwrite roles get EXECUTE, readonly roles none. */
        revokeFunctionExecute: flag.default(false),
        access: oneOf(ACCESS_LEVELS).default(DEFAULT_ACCESS_LEVEL),
        /** CONNECTION LIMIT of `<app>_app`. */
        connectionLimit: connectionLimit.default(DEFAULT_RUNTIME_CONNECTION_LIMIT),
        /** CONNECTION LIMIT of `<app>_migrate`. */
        migrateConnectionLimit: connectionLimit.default(DEFAULT_MIGRATE_CONNECTION_LIMIT),
        ...runtimeSettings,
        /**
         * Bump a counter to give that role a new password on the next `up`. With
         * zeroDowntime, the runtime role alternates between two logins and the one
         * handed out before stays valid until the next rotation (README: rotating passwords).
         */
        rotation: z
            .strictObject({ runtime: rotation.default(0), migrate: rotation.default(0), zeroDowntime: flag.default(false) })
            .default({ runtime: 0, migrate: 0, zeroDowntime: false }),
        /** More login roles on the same database (other services, dashboards). */
        extraRoles: z.record(identifier, extraRoleSchema).default({}),
        /** Overrides of the stack's `backup` block (program/backupConfig.ts). */
        backup: z.unknown().optional(),
    })
    .superRefine((app, ctx) => {
        // Each role's own schemas are some of the app's: those are the ones made and granted in.
        const check = (path: (string | number)[], schemas: readonly string[] | undefined) => {
            const problem = schemas === undefined ? undefined : roleSchemasProblem(schemas, app.schemas);
            if (problem) ctx.addIssue({ code: "custom", path, message: problem });
        };
        check(["runtimeSchemas"], app.runtimeSchemas);
        for (const [role, spec] of Object.entries(app.extraRoles)) check(["extraRoles", role, "schemas"], spec.schemas);
    });

/** libpq's sslrootcert value for the system's trusted CAs instead of a file. */
export const SYSTEM_CA = "system";

/** A PEM file the tool reads when it connects: it must exist where `pulumi` runs. */
const pemFile = (what: string) =>
    text(what).superRefine((file, ctx) => {
        if (file !== SYSTEM_CA && !existsSync(file)) {
            ctx.addIssue({ code: "custom", message: `expected ${what}, got ${JSON.stringify(file)}, which does not exist here` });
        }
    });

const ADMIN_PASSWORD_EXPECTED =
    "expected the admin password (set it with `pulumi config set --secret --path`, or name a file with admin.passwordFile)";

/** A host without a port: `db.lab:5433` is refused with the two keys to set instead. */
const hostWithoutPort = text("a host name or IP address").superRefine((host, ctx) => {
    const withPort = isIP(host) === 0 ? /^\[?(.*?)\]?:(\d+)$/.exec(host) : null;
    if (withPort) {
        ctx.addIssue({
            code: "custom",
            message: `expected a host name or IP address without a port, got ${JSON.stringify(host)}; set host: ${JSON.stringify(withPort[1])} and port: ${withPort[2]}`,
        });
    }
});

/** Keys that describe the PgBouncer containers the stack deploys; a pooler declared as `existing` has none. */
const DEPLOYED_POOLER_KEYS = ["listenAddress", "hostPort", "image", "maxClientConnections"] as const;

/**
 * A pooler in front of a shared server, sized from the budget: a PgBouncer the
 * stack deploys (components/pgbouncer.ts), or, with `existing`, one the user
 * already runs, declared so the outputs and the budget know about it.
 */
const poolerSchema = z
    .strictObject({
        mode: oneOf(POOL_MODES).default("transaction"),
        instances: int(POOLER_RANGES.instances).default(DEFAULT_POOLER_INSTANCES),
        maxClientConnections: int(POOLER_RANGES.maxClientConnections).optional(),
        /** The host's address PgBouncer listens on (the containers use the host's network). */
        listenAddress: z
            .string({ error: (i) => `expected an IP address to listen on, got ${describe(i.input)}` })
            .refine((v) => isIP(v) !== 0, {
                error: (i) => `expected an IP address to listen on, such as "127.0.0.1" or "0.0.0.0", got ${describe(i.input)}`,
            })
            .optional(),
        hostPort: int(RANGES.hostPort).optional(),
        /** One pool size (per instance) for every app; each runtime role's limit over the instances, less the reserve, when omitted. */
        poolSize: int(POOLER_RANGES.poolSize).optional(),
        reservePoolSize: int(POOLER_RANGES.reservePoolSize).default(DEFAULT_RESERVE_POOL_SIZE),
        image: imageName.optional(),
        /** A pooler the stack does not deploy: where clients reach it. Its pools must be sized as declared here. */
        existing: z
            .strictObject({
                host: hostWithoutPort,
                port: int(RANGES.port).default(DEFAULT_POOLER_PORT),
                sslmode: oneOf(SSL_MODES).default("disable"),
            })
            .optional(),
    })
    .superRefine((pooler, ctx) => {
        if (!pooler.existing) return;
        for (const key of DEPLOYED_POOLER_KEYS) {
            if (pooler[key] === undefined) continue;
            ctx.addIssue({
                code: "custom",
                path: [key],
                message: `${key} configures a pooler the stack deploys, and existing declares one it does not: remove ${key}, or remove existing to deploy a PgBouncer`,
            });
        }
    })
    .transform(({ existing, ...pooler }) => ({
        ...pooler,
        maxClientConnections: pooler.maxClientConnections ?? DEFAULT_POOLER_MAX_CLIENT_CONNECTIONS,
        listenAddress: pooler.listenAddress ?? DEFAULT_POOLER_LISTEN_ADDRESS,
        hostPort: pooler.hostPort ?? DEFAULT_POOLER_PORT,
        image: pooler.image ?? DEFAULT_POOLER_IMAGE,
        ...(existing ? { existing } : {}),
    }));
export type PoolerConfig = z.output<typeof poolerSchema>;

export const serverSchema = z
    .strictObject({
        host: hostWithoutPort,
        port: int(RANGES.port).default(DEFAULT_PORT),
        sslmode: oneOf(SSL_MODES).default(DEFAULT_SSL_MODE),
        /**
         * CA certificate(s) the tool verifies the server's certificate with (libpq's
         * sslrootcert): a PEM file path, or `system` for the system's trusted CAs.
         * Needed for verify-ca and verify-full; with require it verifies the CA too, as libpq does.
         */
        sslrootcert: pemFile(`a CA certificate file (PEM) or "${SYSTEM_CA}"`).optional(),
        connectTimeoutSeconds: int(RANGES.connectTimeoutSeconds).default(DEFAULT_CONNECT_TIMEOUT_SECONDS),
        /** Database the provisioning tool connects to for server-wide statements. */
        maintenanceDatabase: text("a database name").default(DEFAULT_MAINTENANCE_DATABASE),
        admin: z
            .strictObject({
                username: existingRole,
                password: text(ADMIN_PASSWORD_EXPECTED).optional(),
                /**
                 * A file holding the password (first line), read when the program runs;
                 * relative to the project directory. Keeps a local password out of the
                 * stack file (the dev stack: .dev/admin-password, git-ignored).
                 */
                passwordFile: text("a path to a file holding the admin password").optional(),
                /** false for managed services (RDS, Cloud SQL) whose admin is not a superuser. */
                superuser: flag.default(false),
                /** Client certificate (PEM file) the admin presents, with `sslkey`. */
                sslcert: pemFile("a client certificate file (PEM)").optional(),
                /** The client certificate's private key (PEM file). */
                sslkey: pemFile("a client key file (PEM)").optional(),
            })
            .superRefine((admin, ctx) => {
                if (admin.password === undefined && admin.passwordFile === undefined) {
                    ctx.addIssue({ code: "custom", path: ["password"], message: `${ADMIN_PASSWORD_EXPECTED}, got nothing` });
                } else if (admin.password !== undefined && admin.passwordFile !== undefined) {
                    ctx.addIssue({ code: "custom", path: ["passwordFile"], message: "expected either password or passwordFile, got both" });
                }
            }),
        maxConnections: int({ ...RANGES.maxConnections, what: "max_connections of the server as an integer" }).default(
            DEFAULT_MAX_CONNECTIONS,
        ),
        superuserReservedConnections: int(RANGES.superuserReservedConnections).default(DEFAULT_SUPERUSER_RESERVED_CONNECTIONS),
        adminHeadroom: int(RANGES.adminHeadroom).default(DEFAULT_ADMIN_HEADROOM),
        provisioningConnections: int(RANGES.provisioningConnections).default(DEFAULT_PROVISIONING_CONNECTIONS),
        /** Roles on the server that this program does not manage, with the connections they may take. */
        externalRoles: z.record(identifier, int(RANGES.externalConnections)).default({}),
        /** Login roles on the server that the config does not name: `warn` counts and lists them, `fail` fails the preview. */
        unmanagedLoginRoles: oneOf(["warn", "fail"] as const).default("warn"),
        /** Parameters added to every connection URL for this server (kept over the defaults). */
        urlParameters: z.record(z.string(), z.string()).default({}),
        /** Networks the apps connect from, for the narrow pg_hba lines. */
        clientCidrs: z.array(cidr).default([]),
        /**
         * Opt-in hardening: revoke CONNECT on the system databases
         * (postgres, template1) from PUBLIC and grant it to these roles (the admin
         * always keeps it). Omit to leave them as they are.
         */
        systemDatabaseAccess: z.array(identifier).optional(),
        /** Opt-in connection pooling: a PgBouncer in front of this server for the apps' runtime roles. */
        pooler: poolerSchema.optional(),
    })
    .superRefine((server, ctx) => {
        if ((server.sslmode === "verify-ca" || server.sslmode === "verify-full") && server.sslrootcert === undefined) {
            ctx.addIssue({
                code: "custom",
                path: ["sslrootcert"],
                message: `expected the CA certificate file that signed the server's certificate (or "${SYSTEM_CA}") with sslmode ${server.sslmode}, got nothing`,
            });
        }
        if ((server.admin.sslcert === undefined) !== (server.admin.sslkey === undefined)) {
            ctx.addIssue({
                code: "custom",
                path: ["admin", server.admin.sslcert === undefined ? "sslcert" : "sslkey"],
                message: "expected a client certificate and its key together (admin.sslcert and admin.sslkey), got only one",
            });
        }
    });

export const stackConfigSchema = z.strictObject({
    servers: z.record(z.string(), z.unknown()).default({}),
    apps: z.record(z.string(), z.unknown(), { error: (i) => `expected apps by name (a map), got ${describe(i.input)}` }).default({}),
    /** Where apps go unless they say otherwise. */
    placement: oneOf(PLACEMENTS).default("shared"),
    /** Defaults of dedicated servers. */
    dedicated: z.unknown().default({}),
    /**
     * Production protection: databases, roles and volumes cannot be deleted by
     * Pulumi, and every app resource is retained (left in place) if it ever is.
     */
    protect: flag.default(false),
    /** Apps deliberately removed from a protected stack; their resources are retained, not dropped. */
    retiredApps: z.array(identifier).default([]),
    /** Connect to each shared server before declaring anything (reachability, password, max_connections). */
    preflight: flag.default(true),
    /** Scheduled, drilled backups of each app (program/backupConfig.ts); none when omitted. */
    backup: z.unknown().default({}),
});

export type AppConfig = z.output<typeof appSchema>;
type ParsedServer = z.output<typeof serverSchema>;
/** A server with its admin password in hand (read from passwordFile when it names one). */
export interface ServerConfig extends Omit<ParsedServer, "admin"> {
    readonly admin: Omit<ParsedServer["admin"], "password" | "passwordFile"> & { readonly password: string };
}

/** Reads a file named in config; the program's default reads it from disk, relative to the project directory. */
export type ConfigFileReader = (path: string) => string;
const readConfigFile: ConfigFileReader = (path) => readFileSync(resolvePath(path), "utf8");
export type ExtraRoleConfig = z.output<typeof extraRoleSchema>;

export type DedicatedDefaults = z.output<typeof dedicatedDefaultsSchema>;

/** A dedicated server's settings, stack defaults and app overrides merged. */
export interface DedicatedSpec {
    /** The image with `{version}` filled in. */
    readonly image: string;
    readonly version: string;
    readonly memoryMb: number;
    /** Port on 127.0.0.1, or undefined when ports are not published (prod). */
    readonly hostPort?: number;
    /** Explicit max_connections, or undefined to size it from the budget. */
    readonly maxConnections?: number;
    readonly superuserReservedConnections: number;
    readonly adminHeadroom: number;
    readonly provisioningConnections: number;
    readonly settings: Readonly<Record<string, string>>;
    /** Go on with an empty server where data was expected (`apps.<app>.dedicated.acceptEmptyData`). */
    readonly acceptEmptyData: boolean;
}

/** What of an app is adopted, with each adopted role's password in hand (undefined: a new one is generated). */
export interface ResolvedAdopt {
    readonly database: boolean;
    readonly roles: Readonly<Record<string, { readonly password?: string }>>;
    readonly moveObjects?: {
        readonly schemas: readonly string[];
        readonly from: readonly string[];
        readonly lockTimeoutMs: number;
        readonly maxWaitSeconds: number;
    };
    readonly keepConnect: readonly string[];
}

/** An app with its defaults filled in and its names resolved. */
export interface ResolvedApp extends Omit<AppConfig, "dedicated" | "adopt"> {
    readonly name: string;
    /** Set when something of the app exists on its server already (shared placement only). */
    readonly adopt?: ResolvedAdopt;
    readonly placement: Placement;
    /** The key of its server: a `servers` entry, or `dedicated-<app>` for its own container. */
    readonly server: string;
    readonly database: string;
    /** Set for dedicated placement. */
    readonly dedicated?: DedicatedSpec;
}

export interface StackConfig {
    readonly servers: Readonly<Record<string, ServerConfig>>;
    readonly apps: Readonly<Record<string, ResolvedApp>>;
    readonly protect: boolean;
    readonly retiredApps: readonly string[];
    readonly preflight: boolean;
    /** Set when the stack has a `backup` block. */
    readonly backup?: BackupPlan;
}

/** The server key of an app's own container. */
export const dedicatedServerKey = (app: string) => `dedicated-${app}`;

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
export function parseStackConfig(raw: unknown, readFile: ConfigFileReader = readConfigFile): StackConfig {
    const issues: ConfigIssue[] = [];
    const root = stackConfigSchema.safeParse(raw ?? {});
    if (!root.success) {
        issues.push(...zodIssues(root.error, [], stackConfigSchema));
        throw new ConfigError(issues);
    }

    const servers: Record<string, ServerConfig> = {};
    for (const [key, value] of Object.entries(root.data.servers)) {
        const badKey = keyIssue("servers", key, issues);
        const parsed = serverSchema.safeParse(value);
        if (!parsed.success) issues.push(...zodIssues(parsed.error, ["servers", key], serverSchema));
        else {
            const server = withAdminPassword(key, parsed.data, readFile, issues);
            if (server && !badKey) servers[key] = server;
        }
    }

    const dedicatedDefaults = dedicatedDefaultsSchema.safeParse(root.data.dedicated ?? {});
    if (!dedicatedDefaults.success) issues.push(...zodIssues(dedicatedDefaults.error, ["dedicated"], dedicatedDefaultsSchema));
    const context: ResolveContext = {
        serverKeys: Object.keys(root.data.servers),
        placement: root.data.placement,
        dedicated: dedicatedDefaults.success ? dedicatedDefaults.data : dedicatedDefaultsSchema.parse({}),
    };

    const apps: Record<string, ResolvedApp> = {};
    for (const [key, value] of Object.entries(root.data.apps)) {
        const badKey = keyIssue("apps", key, issues);
        const parsed = appSchema.safeParse(value);
        if (!parsed.success) {
            issues.push(...zodIssues(parsed.error, ["apps", key], appSchema));
            continue;
        }
        if (badKey) continue;
        const app = resolveApp(key, parsed.data, context, issues);
        if (app) apps[key] = resolveAdopt(app, parsed.data.adopt, servers, readFile, issues);
    }

    issues.push(...namingIssues(apps, servers), ...portIssues(apps, servers), ...poolerIssues(apps, servers));
    const backup = resolveBackup(root.data.backup, byName(apps), servers, issues);
    if (issues.length > 0) throw new ConfigError(issues);
    return {
        servers,
        apps,
        protect: root.data.protect,
        retiredApps: root.data.retiredApps,
        preflight: root.data.preflight,
        ...(backup ? { backup } : {}),
    };
}

/** The server with its admin password: the secret config value, or the first line of passwordFile. */
function withAdminPassword(key: string, server: ParsedServer, readFile: ConfigFileReader, issues: ConfigIssue[]): ServerConfig | undefined {
    const { passwordFile, password, ...admin } = server.admin;
    if (passwordFile === undefined) return { ...server, admin: { ...admin, password: password! } };
    const firstLine = passwordFromFile(passwordFile, `servers.${key}.admin.passwordFile`, readFile, issues, {
        what: "the admin password",
        otherwise: "; create it, or set admin.password instead",
    });
    return firstLine === undefined ? undefined : { ...server, admin: { ...admin, password: firstLine } };
}

/** The first line of a password file named in config at `path`, or undefined with the problem recorded. */
function passwordFromFile(
    file: string,
    path: string,
    readFile: ConfigFileReader,
    issues: ConfigIssue[],
    words: { readonly what: string; readonly otherwise: string },
): string | undefined {
    let content: string;
    try {
        content = readFile(file);
    } catch (err) {
        const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        issues.push({ path, message: `cannot read ${JSON.stringify(file)} (${reason})${words.otherwise}` });
        return undefined;
    }
    const firstLine = content.split(/\r?\n/, 1)[0];
    if (firstLine.length === 0) {
        issues.push({ path, message: `expected ${words.what} on the first line of ${JSON.stringify(file)}, got an empty line` });
        return undefined;
    }
    return firstLine;
}

/** Records a problem with a server or app name; true when there was one. */
function keyIssue(section: string, key: string, issues: ConfigIssue[]): boolean {
    const problem = identifierProblem(key);
    if (problem) issues.push({ path: `${section}.${key}`, message: problem });
    return problem !== undefined;
}

interface ResolveContext {
    readonly serverKeys: string[];
    readonly placement: Placement;
    readonly dedicated: DedicatedDefaults;
}

/** A stable host port for an app's container, from its name (FNV-1a). */
export function derivedHostPort(app: string): number {
    let hash = 0x811c9dc5;
    for (const byte of Buffer.from(app, "utf8")) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
    return DERIVED_PORT_BASE + (hash % DERIVED_PORT_SPAN);
}

/**
 * The app's `adopt`, checked against its own roles and schemas, with each
 * adopted role's password read (passwordFile) or left to be generated (newPassword).
 */
function resolveAdopt(
    app: ResolvedApp,
    raw: AppConfig["adopt"],
    servers: Readonly<Record<string, ServerConfig>>,
    readFile: ConfigFileReader,
    issues: ConfigIssue[],
): ResolvedApp {
    if (raw === undefined) return app;
    const at = `apps.${app.name}.adopt`;
    const own = [...roleListFor(app.name, false, app.roles), ...Object.keys(app.extraRoles)];
    const roles: Record<string, { password?: string }> = {};
    for (const [role, spec] of Object.entries(raw.roles)) {
        if (!own.includes(role)) {
            issues.push({
                path: `${at}.roles.${role}`,
                message: `expected one of the app's own roles (${own.join(", ")}), got ${JSON.stringify(role)}`,
            });
            continue;
        }
        let password = spec.password;
        if (spec.passwordFile !== undefined) {
            password = passwordFromFile(spec.passwordFile, `${at}.roles.${role}.passwordFile`, readFile, issues, {
                what: "the password",
                otherwise: "",
            });
        }
        roles[role] = password === undefined ? {} : { password };
    }
    let moveObjects: ResolvedAdopt["moveObjects"];
    if (raw.moveObjects) {
        if (!raw.database)
            issues.push({ path: `${at}.moveObjects`, message: "moves objects of an existing database: set adopt.database: true too" });
        const outside = raw.moveObjects.schemas.filter((s) => !app.schemas.includes(s));
        if (outside.length > 0) {
            issues.push({
                path: `${at}.moveObjects.schemas`,
                message: `${outside.join(", ")} ${outside.length === 1 ? "is" : "are"} not in apps.${app.name}.schemas; list ${outside.length === 1 ? "it" : "them"} there too, so the app's roles get access`,
            });
        }
        const admin = servers[app.server]?.admin.username;
        moveObjects = { ...raw.moveObjects, from: raw.moveObjects.from ?? (admin ? [admin] : []) };
    }
    return { ...app, adopt: { database: raw.database, roles, moveObjects, keepConnect: raw.keepConnect } };
}

/** Fills in an app's placement, server and database, checking the derived role names. */
function resolveApp(name: string, rawApp: AppConfig, context: ResolveContext, issues: ConfigIssue[]): ResolvedApp | undefined {
    for (const role of roleListFor(name, rawApp.rotation.zeroDowntime, rawApp.roles)) {
        const problem = identifierProblem(role);
        if (problem) issues.push({ path: `apps.${name}`, message: `derived role name ${role}: ${problem}` });
    }
    const { dedicated: overrides, adopt, ...app } = rawApp;
    const placement = app.placement ?? context.placement;
    const database = app.database ?? name;
    if (placement === "dedicated") {
        if (app.server !== undefined) {
            issues.push({ path: `apps.${name}.server`, message: "applies to shared placement only; remove it or set placement: shared" });
            return undefined;
        }
        if (adopt !== undefined) {
            issues.push({
                path: `apps.${name}.adopt`,
                message: "applies to shared placement only (a dedicated container starts empty); remove it or set placement: shared",
            });
            return undefined;
        }
        const d = context.dedicated;
        const version = overrides?.version ?? d.version;
        const spec: DedicatedSpec = {
            image: (overrides?.image ?? d.image).replace("{version}", version),
            version,
            memoryMb: overrides?.memoryMb ?? d.memoryMb,
            hostPort: d.publishPort ? (overrides?.hostPort ?? derivedHostPort(name)) : undefined,
            maxConnections: overrides?.maxConnections,
            superuserReservedConnections: d.superuserReservedConnections,
            adminHeadroom: d.adminHeadroom,
            provisioningConnections: d.provisioningConnections,
            settings: { ...d.settings, ...overrides?.settings },
            acceptEmptyData: overrides?.acceptEmptyData ?? false,
        };
        return { ...app, name, placement, server: dedicatedServerKey(name), database, dedicated: spec };
    }
    if (overrides !== undefined) {
        issues.push({
            path: `apps.${name}.dedicated`,
            message: "applies to dedicated placement only; remove it or set placement: dedicated",
        });
        return undefined;
    }
    const serverKeys = context.serverKeys;
    let server = app.server;
    if (serverKeys.length === 0) {
        issues.push({
            path: `apps.${name}.server`,
            message: "no servers are configured for shared placement: add one under servers, or set placement: dedicated",
        });
        return undefined;
    }
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
    return { ...app, name, placement, server, database };
}

/** Apps in name order (stack config arrives with its keys sorted; tests may not). */
const byName = (apps: Record<string, ResolvedApp>) => Object.values(apps).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)); // code-unit order, as before

/** Published host ports must not clash with each other or with a local shared server. */
function portIssues(apps: Record<string, ResolvedApp>, servers: Record<string, ServerConfig>): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    const taken = new Map<number, string>();
    for (const [key, server] of Object.entries(servers)) {
        if (["127.0.0.1", "localhost", "::1"].includes(server.host)) taken.set(server.port, `servers.${key}.port`);
    }
    for (const app of byName(apps)) {
        const port = app.dedicated?.hostPort;
        if (port === undefined) continue;
        const owner = taken.get(port);
        if (owner) {
            issues.push({
                path: `apps.${app.name}.dedicated.hostPort`,
                message: `host port ${port} is also used by ${owner}; set a different apps.${app.name}.dedicated.hostPort`,
            });
        } else {
            taken.set(port, `apps.${app.name}.dedicated.hostPort`);
        }
    }
    return issues;
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
            issues.push({
                path,
                message: `${kind} ${name} on server ${server} is already used by ${previous}; names must be unique per server`,
            });
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
    // Derived names first, then extra roles, each in name order: the same
    // config gives the same message whatever order its keys arrive in.
    const sorted = byName(apps);
    const footprints = sorted.map(footprintOf);
    for (const f of footprints) {
        claim(databaseOwners, f.server, f.database, `apps.${f.app}.database`, "database");
        for (const role of f.roles.filter((r) => r.origin === "derived")) claim(roleOwners, f.server, role.name, role.path, "role");
    }
    for (const f of footprints) {
        const extras = f.roles.filter((r) => r.origin === "extra").sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)); // code-unit order, as before
        for (const role of extras) claim(roleOwners, f.server, role.name, role.path, "role");
    }
    return issues;
}

/** The parts of a zod schema's definition that lead to the object schemas inside it. */
interface SchemaDef {
    readonly type: string;
    readonly innerType?: z.core.$ZodType;
    readonly in?: z.core.$ZodType;
    readonly valueType?: z.core.$ZodType;
    readonly shape?: Readonly<Record<string, z.core.$ZodType>>;
}

/** The keys an object schema takes at `path` inside `schema` (through defaults, optionals and records). */
function keysAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
    let at: z.core.$ZodType | undefined = schema;
    let rest = [...path];
    while (at) {
        const def = at._zod.def as SchemaDef;
        if (def.innerType ?? def.in) at = def.innerType ?? def.in;
        else if (def.valueType && rest.length > 0) [at, rest] = [def.valueType, rest.slice(1)];
        else if (def.shape && rest.length > 0) [at, rest] = [def.shape[String(rest[0])], rest.slice(1)];
        else return def.shape ? Object.keys(def.shape) : [];
    }
    return [];
}

/** One problem per unknown key, at the key's own path, with the nearest key the schema takes there. */
function unknownKeyIssues(keys: readonly string[], path: readonly (string | number)[], valid: readonly string[]): ConfigIssue[] {
    return keys.map((key) => {
        const near = nearestName(key, valid);
        const hint = near ? `did you mean ${near}?` : `expected one of ${valid.join(", ")}`;
        return { path: [...path, key].join("."), message: `unknown key ${key}; ${hint} (README: Config reference)` };
    });
}

function zodIssues(error: z.ZodError, prefix: (string | number)[], schema: z.core.$ZodType): ConfigIssue[] {
    return error.issues.flatMap((issue) => {
        const path = [...prefix, ...issue.path.map((p) => String(p))];
        let message = issue.message;
        if (issue.code === "unrecognized_keys") {
            return unknownKeyIssues(issue.keys, path, keysAt(schema, issue.path));
        } else if (issue.code === "invalid_key") {
            // A record key failed: report it at the key's own path.
            const inner = issue.issues[0];
            message = inner ? inner.message : message;
        }
        return { path: path.length > 0 ? path.join(".") : "(root)", message };
    });
}
