/**
 * From stack config to the server components' args: the one place where
 * config field names meet component argument names.
 */
import type { AdminConnection } from "../components/adminConnection";
import { resolveSharedServerArgs, sharedAdminConnection, SharedServerArgs } from "../components/sharedServer";
import { ServerConfig } from "./config";

/** SharedServer args for a `servers` entry; the admin password is plain here (the caller marks it secret). */
export function sharedServerArgs(
    server: ServerConfig,
): SharedServerArgs & { readonly adminUsername: string; readonly adminPassword: string } {
    return {
        host: server.host,
        port: server.port,
        sslmode: server.sslmode,
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
