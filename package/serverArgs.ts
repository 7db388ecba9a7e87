/**
 * The server contract as plain data: what an AppDatabase of the component
 * package needs to reach a shared server. A live provider object cannot cross
 * the language boundary, so each AppDatabase builds its own SharedServer from
 * these facts inside the package.
 */
import * as pulumi from "@pulumi/pulumi";
import { resolveSharedServerArgs, SharedServerArgs } from "../components/sharedServer";
import type { SslMode } from "../components/defaults";

/**
 * An existing PostgreSQL server and its admin credentials (SharedServerArgs, as
 * plain data; the schema analyzer reads declared fields, not Omit<>).
 */
export interface ServerArgs {
    /** The server's host name or address. */
    readonly host: string;
    /** @default 5432 */
    readonly port?: number;
    /** libpq sslmode of the admin connection and the apps' URLs: disable, allow, prefer, require, verify-ca, verify-full. @default "prefer" */
    readonly sslmode?: string;
    /** CA certificate file (PEM) the admin connection verifies the server with, or `system`. @default none */
    readonly sslrootcert?: string;
    /** Client certificate file (PEM) the admin presents. @default none */
    readonly adminSslcert?: string;
    /** Client key file (PEM) the admin presents. @default none */
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
    /** Pool size of the provisioning provider. @default 2 */
    readonly provisioningConnections?: number;
    /** Parameters added to every app URL. @default {} */
    readonly urlParameters?: Record<string, string>;
}

/**
 * ServerArgs as SharedServer takes them, checked with SharedServer's own rules
 * (so another language gets the TypeScript messages); throws on a bad value.
 */
export function sharedServerArgs(server: ServerArgs): SharedServerArgs {
    // A string from another language is checked as an sslmode by SharedServer itself.
    const args: SharedServerArgs = { ...server, sslmode: server.sslmode as SslMode | undefined };
    resolveSharedServerArgs(args);
    return args;
}
