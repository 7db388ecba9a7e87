/**
 * From stack config to the components' args: the one place where config
 * field names meet component argument names.
 */
import type { AdminConnection } from "../components/adminConnection";
import type { AdoptArgs, AppDatabaseArgs } from "../components/appDatabase";
import type { DedicatedServerArgs } from "../components/dedicatedServer";
import type { PostgresServer } from "../components/sharedServer";
import { resolveSharedServerArgs, sharedAdminConnection, SharedServerArgs } from "../components/sharedServer";
import * as pulumi from "@pulumi/pulumi";
import { ResolvedAdopt, ResolvedApp, ServerConfig } from "./config";
import { footprintOf, roleNamesOf } from "./footprint";

/** SharedServer args for a `servers` entry; the admin password is plain here (the caller marks it secret). */
export function sharedServerArgs(
    server: ServerConfig,
): SharedServerArgs & { readonly adminUsername: string; readonly adminPassword: string } {
    return {
        host: server.host,
        port: server.port,
        sslmode: server.sslmode,
        sslrootcert: server.sslrootcert,
        adminSslcert: server.admin.sslcert,
        adminSslkey: server.admin.sslkey,
        connectTimeoutSeconds: server.connectTimeoutSeconds,
        maintenanceDatabase: server.maintenanceDatabase,
        adminUsername: server.admin.username,
        adminPassword: server.admin.password,
        adminSuperuser: server.admin.superuser,
        provisioningConnections: server.provisioningConnections,
        urlParameters: server.urlParameters,
    };
}

/** The admin connection to a `servers` entry, exactly as its SharedServer builds it. */
export function adminConnectionOf(server: ServerConfig): AdminConnection {
    const args = sharedServerArgs(server);
    return sharedAdminConnection(resolveSharedServerArgs(args), args.adminUsername, args.adminPassword);
}

/** DedicatedServer args for a dedicated app, with max_connections as its budget sized it. */
export function dedicatedServerArgs(app: ResolvedApp, stack: string, maxConnections: number, protect: boolean): DedicatedServerArgs {
    const spec = app.dedicated!;
    return {
        app: app.name,
        stack,
        image: spec.image,
        memoryMb: spec.memoryMb,
        maxConnections,
        hostPort: spec.hostPort,
        settings: spec.settings,
        provisioningConnections: spec.provisioningConnections,
        protect,
        clients: { database: app.database, roles: roleNamesOf(footprintOf(app)) },
    };
}

/**
 * AppDatabase args for an app on `server`. A protected stack protects the
 * app's resources and retains them on delete.
 */
export function appDatabaseArgs(app: ResolvedApp, server: PostgresServer, protect: boolean): AppDatabaseArgs {
    return {
        app: app.name,
        server,
        database: app.database,
        access: app.access,
        runtimeConnectionLimit: app.connectionLimit,
        migrateConnectionLimit: app.migrateConnectionLimit,
        statementTimeoutMs: app.statementTimeoutMs,
        idleInTransactionSessionTimeoutMs: app.idleInTransactionSessionTimeoutMs,
        idleSessionTimeoutMs: app.idleSessionTimeoutMs,
        rotation: app.rotation,
        extraRoles: app.extraRoles,
        roleNames: app.roles,
        schemas: app.schemas,
        ...(app.runtimeSchemas ? { runtimeSchemas: app.runtimeSchemas } : {}),
        ...(app.searchPath ? { searchPath: app.searchPath } : {}),
        ...(app.revokeFunctionExecute ? { revokeFunctionExecute: true } : {}),
        ...(app.adopt ? { adopt: adoptArgs(app.adopt) } : {}),
        protect,
        retainOnDelete: protect,
    };
}

/** The component's `adopt`: the supplied passwords are secrets from here on. */
function adoptArgs(adopt: ResolvedAdopt): AdoptArgs {
    return {
        database: adopt.database,
        roles: Object.fromEntries(
            Object.entries(adopt.roles).map(([role, spec]) => [
                role,
                spec.password === undefined ? {} : { password: pulumi.secret(spec.password) },
            ]),
        ),
        ...(adopt.moveObjects ? { moveObjects: adopt.moveObjects } : {}),
        keepConnect: adopt.keepConnect,
    };
}
