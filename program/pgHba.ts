/**
 * The pg_hba.conf lines a shared server's admin pastes above the broad
 * fallback rule: per app, its roles to its database from its networks
 * (components/hbaRules.ts renders and orders them).
 */
import { hbaConnectionType, hbaLines } from "../components/hbaRules";
import { ResolvedApp, ServerConfig } from "./config";
import { footprintOf, roleNamesOf } from "./footprint";

export function pgHbaLines(serverName: string, server: ServerConfig, apps: readonly ResolvedApp[]): string[] {
    return hbaLines(
        serverName,
        hbaConnectionType(server.sslmode),
        apps.map((app) => ({ database: app.database, roles: roleNamesOf(footprintOf(app)), cidrs: app.clientCidrs ?? server.clientCidrs })),
    );
}
