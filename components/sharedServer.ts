/**
 * SharedServer: an existing PostgreSQL server (a VM, RDS, a managed service)
 * reached with admin credentials from secret stack config.
 *
 * A server, whatever its placement, gives AppDatabase the same three things
 * (`PostgresServer`): a postgresql provider, the admin connection for the
 * dynamic resources, and the endpoint applications connect to. A server that
 * must start first (a container) makes its provider and connection wait for
 * it, so nothing connects too early.
 */
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import { AdminConnection } from "./adminConnection";
import {
    checkInt,
    checkOneOf,
    checkText,
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_MAINTENANCE_DATABASE,
    DEFAULT_PORT,
    DEFAULT_PROVISIONING_CONNECTIONS,
    DEFAULT_SSL_MODE,
    RANGES,
    SSL_MODES,
    SslMode,
} from "./defaults";

export const SHARED_SERVER_TYPE = "app-databases:index:SharedServer";

/** Where applications reach a server, and how. */
export interface ServerEndpoint {
    /** Host applications connect to. */
    readonly host: pulumi.Input<string>;
    readonly port: pulumi.Input<number>;
    /** Host other containers on the server's network use, when it differs (dedicated placement). */
    readonly internalHost?: pulumi.Input<string>;
    readonly internalPort?: pulumi.Input<number>;
    readonly sslmode: SslMode;
    readonly connectTimeoutSeconds: number;
    /** Extra URL parameters; they win over sslmode and connect_timeout above. */
    readonly urlParameters: Readonly<Record<string, string>>;
}

/** What AppDatabase needs from a server, whatever its placement. */
export interface PostgresServer {
    readonly provider: postgresql.Provider;
    /** Secret: carries the admin password. */
    readonly connection: pulumi.Output<AdminConnection>;
    readonly endpoint: ServerEndpoint;
}

/**
 * A shared server as plain data, sslmode as text: what a program in any
 * language can hand over (the component package's `Server`). SharedServerArgs
 * is the same with sslmode typed.
 */
export interface ServerConnection {
    readonly host: string;
    /** @default 5432 */
    readonly port?: number;
    /**
     * libpq sslmode for the admin connection and the apps' URLs: disable,
     * allow, prefer, require, verify-ca or verify-full. @default "prefer"
     */
    readonly sslmode?: string;
    /**
     * CA certificate file (PEM) the admin connection verifies the server with,
     * or `system` for the system's trusted CAs; used by the provider and the
     * dynamic resources alike. @default none: verify-ca and verify-full cannot succeed
     */
    readonly sslrootcert?: string;
    /** Client certificate and key files (PEM) the admin presents. @default none */
    readonly adminSslcert?: string;
    readonly adminSslkey?: string;
    /** @default 10 */
    readonly connectTimeoutSeconds?: number;
    /** Database for server-wide statements. @default "postgres" */
    readonly maintenanceDatabase?: string;
    readonly adminUsername: pulumi.Input<string>;
    /** Treated as a secret wherever it goes. */
    readonly adminPassword: pulumi.Input<string>;
    /** Whether the admin is a superuser; false for RDS, Cloud SQL, PG16 CREATEROLE admins. @default false */
    readonly adminSuperuser?: boolean;
    /** Pool size of the provisioning provider; counted in the ConnectionBudget. @default 2 */
    readonly provisioningConnections?: number;
    /** Parameters added to every app URL. @default {} */
    readonly urlParameters?: Readonly<Record<string, string>>;
}

export interface SharedServerArgs extends Omit<ServerConnection, "sslmode"> {
    /** libpq sslmode for the admin connection and the apps' URLs. @default "prefer" */
    readonly sslmode?: SslMode;
}

const COMPONENT = "SharedServer";

/** The TLS files of the admin connection: optional even when resolved (none is a valid choice). */
type TlsArgs = "sslrootcert" | "adminSslcert" | "adminSslkey";

/** SharedServerArgs with every default filled in. */
export type ResolvedSharedServerArgs = Required<Omit<SharedServerArgs, TlsArgs>> & Pick<SharedServerArgs, TlsArgs>;

/** Fills in SharedServer defaults; throws naming the argument and the value when one is out of range. */
export function resolveSharedServerArgs(args: SharedServerArgs): ResolvedSharedServerArgs {
    if (!args.host) throw new Error(`${COMPONENT}: \`host\` is required (the server's host name or address)`);
    return {
        host: args.host,
        port: checkInt(COMPONENT, "port", args.port ?? DEFAULT_PORT, RANGES.port),
        sslmode: checkOneOf(COMPONENT, "sslmode", args.sslmode ?? DEFAULT_SSL_MODE, SSL_MODES),
        connectTimeoutSeconds: checkInt(
            COMPONENT,
            "connectTimeoutSeconds",
            args.connectTimeoutSeconds ?? DEFAULT_CONNECT_TIMEOUT_SECONDS,
            RANGES.connectTimeoutSeconds,
        ),
        maintenanceDatabase: checkText(
            COMPONENT,
            "maintenanceDatabase",
            args.maintenanceDatabase ?? DEFAULT_MAINTENANCE_DATABASE,
            "a database name",
        ),
        adminUsername: args.adminUsername,
        adminPassword: args.adminPassword,
        adminSuperuser: args.adminSuperuser ?? false,
        provisioningConnections: checkInt(
            COMPONENT,
            "provisioningConnections",
            args.provisioningConnections ?? DEFAULT_PROVISIONING_CONNECTIONS,
            RANGES.provisioningConnections,
        ),
        urlParameters: args.urlParameters ?? {},
        sslrootcert: args.sslrootcert,
        adminSslcert: args.adminSslcert,
        adminSslkey: args.adminSslkey,
    };
}

/** The admin connection to a shared server, from its resolved args and the admin's credentials. */
export function sharedAdminConnection(a: ResolvedSharedServerArgs, username: string, password: string): AdminConnection {
    return {
        host: a.host,
        port: a.port,
        username,
        password,
        database: a.maintenanceDatabase,
        sslmode: a.sslmode,
        // Only what is set, so connections without TLS files look as they always did in the state.
        ...(a.sslrootcert !== undefined ? { sslrootcert: a.sslrootcert } : {}),
        ...(a.adminSslcert !== undefined ? { sslcert: a.adminSslcert } : {}),
        ...(a.adminSslkey !== undefined ? { sslkey: a.adminSslkey } : {}),
        connectTimeoutSeconds: a.connectTimeoutSeconds,
        superuser: a.adminSuperuser,
    };
}

export class SharedServer extends pulumi.ComponentResource implements PostgresServer {
    public readonly provider: postgresql.Provider;
    public readonly connection: pulumi.Output<AdminConnection>;
    public readonly endpoint: ServerEndpoint;

    constructor(name: string, args: SharedServerArgs, opts: pulumi.ComponentResourceOptions = {}) {
        const a = resolveSharedServerArgs(args); // bad input fails before anything is registered
        super(SHARED_SERVER_TYPE, name, {}, opts);
        const { port, sslmode, connectTimeoutSeconds } = a;
        const database = a.maintenanceDatabase;
        const superuser = a.adminSuperuser;
        const password = pulumi.secret(a.adminPassword);

        this.provider = new postgresql.Provider(
            `${name}-provider`,
            {
                host: args.host,
                port,
                username: args.adminUsername,
                password,
                sslmode,
                sslrootcert: a.sslrootcert,
                clientcert: a.adminSslcert && a.adminSslkey ? { cert: a.adminSslcert, key: a.adminSslkey } : undefined,
                database,
                superuser,
                connectTimeout: connectTimeoutSeconds,
                maxConnections: a.provisioningConnections,
            },
            { parent: this },
        );
        this.connection = pulumi.secret(
            pulumi.all([args.adminUsername, password]).apply(([username, pw]) => sharedAdminConnection(a, username, pw)),
        );
        this.endpoint = { host: args.host, port, sslmode, connectTimeoutSeconds, urlParameters: a.urlParameters };
        this.registerOutputs({ host: args.host, port });
    }
}
