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
import { DEFAULT_CONNECT_TIMEOUT_SECONDS, DEFAULT_PROVISIONING_CONNECTIONS } from "./config";

export const SHARED_SERVER_TYPE = "app-databases:index:SharedServer";

/** Where applications reach a server, and how. */
export interface ServerEndpoint {
    /** Host applications connect to. */
    readonly host: pulumi.Input<string>;
    readonly port: pulumi.Input<number>;
    /** Host other containers on the server's network use, when it differs (dedicated placement). */
    readonly internalHost?: pulumi.Input<string>;
    readonly internalPort?: pulumi.Input<number>;
    readonly sslmode: string;
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

export interface SharedServerArgs {
    readonly host: string;
    /** @default 5432 */
    readonly port?: number;
    /** libpq sslmode for the admin connection and the apps' URLs. @default "prefer" */
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

export class SharedServer extends pulumi.ComponentResource implements PostgresServer {
    public readonly provider: postgresql.Provider;
    public readonly connection: pulumi.Output<AdminConnection>;
    public readonly endpoint: ServerEndpoint;

    constructor(name: string, args: SharedServerArgs, opts: pulumi.ComponentResourceOptions = {}) {
        if (!args.host) throw new Error("SharedServer: `host` is required (the server's host name or address)");
        super(SHARED_SERVER_TYPE, name, {}, opts);
        const port = args.port ?? 5432;
        const sslmode = args.sslmode ?? "prefer";
        const connectTimeoutSeconds = args.connectTimeoutSeconds ?? DEFAULT_CONNECT_TIMEOUT_SECONDS;
        const database = args.maintenanceDatabase ?? "postgres";
        const superuser = args.adminSuperuser ?? false;
        const password = pulumi.secret(args.adminPassword);
        // Only what is set, so connections without TLS files look as they always did in the state.
        const tlsFiles = Object.fromEntries(
            Object.entries({ sslrootcert: args.sslrootcert, sslcert: args.adminSslcert, sslkey: args.adminSslkey }).filter(
                ([, v]) => v !== undefined,
            ),
        );

        this.provider = new postgresql.Provider(
            `${name}-provider`,
            {
                host: args.host,
                port,
                username: args.adminUsername,
                password,
                sslmode,
                sslrootcert: args.sslrootcert,
                clientcert: args.adminSslcert && args.adminSslkey ? { cert: args.adminSslcert, key: args.adminSslkey } : undefined,
                database,
                superuser,
                connectTimeout: connectTimeoutSeconds,
                maxConnections: args.provisioningConnections ?? DEFAULT_PROVISIONING_CONNECTIONS,
            },
            { parent: this },
        );
        this.connection = pulumi.secret(
            pulumi.all([args.adminUsername, password]).apply(([username, pw]) => ({
                host: args.host,
                port,
                username,
                password: pw,
                database,
                sslmode,
                ...tlsFiles,
                connectTimeoutSeconds,
                superuser,
            })),
        );
        this.endpoint = { host: args.host, port, sslmode, connectTimeoutSeconds, urlParameters: args.urlParameters ?? {} };
        this.registerOutputs({ host: args.host, port });
    }
}
