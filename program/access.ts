/**
 * The `access` stack output and the report command's inputs: which databases
 * on a server belong to which app, and so which role should own what is in them.
 */
import * as pulumi from "@pulumi/pulumi";
import { AccessReport, AccessReportNotRead, accessReportOutput, OwnedDatabase } from "../components/accessReport";
import { AdminConnection } from "../components/adminConnection";
import { footprintOf, migrateRoleOf } from "./footprint";
import type { StackConfig } from "./config";

/** The app databases on a server, each with the role that should own what is in it. */
export function ownedDatabases(config: StackConfig, server: string): OwnedDatabase[] {
    return Object.values(config.apps)
        .filter((a) => a.server === server)
        .map((a) => ({ database: a.database, owner: migrateRoleOf(footprintOf(a)) }));
}

/**
 * The `access` stack output: each server's report, read once its apps' CONNECT
 * lock-downs (`lockDowns`, per server and database) exist; in a preview only when the
 * preflight may reach the servers.
 */
export function accessReportOutputs(
    config: StackConfig,
    servers: Readonly<Record<string, { readonly connection: pulumi.Output<AdminConnection> }>>,
    lockDowns: Readonly<Record<string, Readonly<Record<string, pulumi.CustomResource>>>>,
): Record<string, pulumi.Output<AccessReport | AccessReportNotRead>> {
    return Object.fromEntries(
        Object.entries(servers).map(([name, server]) => [
            name,
            accessReportOutput(
                name,
                server.connection,
                ownedDatabases(config, name),
                lockDowns[name] ?? {},
                config.preflight || !pulumi.runtime.isDryRun(),
            ),
        ]),
    );
}
