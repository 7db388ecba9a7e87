/**
 * Preflight: before anything is declared, connect to every shared server as
 * its admin and check what the plan assumes. An unreachable server, a wrong
 * password or a budget computed on the wrong max_connections fails the preview
 * with a message naming the server, host and port; nothing is applied.
 */
import { withAdminClient } from "../components/adminConnection";
import { serverSettingsQuery } from "../components/sql/catalog";
import { MIN_POSTGRES_MAJOR, ResolvedApp, ServerConfig } from "./config";
import { adminConnectionOf } from "./componentArgs";
import { adoptionProblems, readAdoptionFacts, ServerAdoptionFacts } from "./adoption";
import { LiveRole, readLiveRoles } from "./liveRoles";

export { adminConnectionOf } from "./componentArgs";

/** What a server says about itself. */
export interface ServerFacts {
    readonly versionNum: number;
    readonly maxConnections: number;
    readonly superuserReservedConnections: number;
}

/** Problems with what the config assumes about a server, given what it says. */
export function factProblems(name: string, server: ServerConfig, facts: ServerFacts): string[] {
    const problems: string[] = [];
    // server_version_num is the major times 10000 (150004 is 15.4).
    if (facts.versionNum < MIN_POSTGRES_MAJOR * 10000) {
        problems.push(
            `server ${name} runs PostgreSQL ${Math.floor(facts.versionNum / 10000)}; ${MIN_POSTGRES_MAJOR} or newer is needed (idle_session_timeout)`,
        );
    }
    if (server.maxConnections > facts.maxConnections) {
        problems.push(
            `servers.${name}.maxConnections is ${server.maxConnections} but the server's max_connections is ${facts.maxConnections}: the budget would be computed on connections that do not exist`,
        );
    }
    if (server.superuserReservedConnections < facts.superuserReservedConnections) {
        problems.push(
            `servers.${name}.superuserReservedConnections is ${server.superuserReservedConnections} but the server reserves ${facts.superuserReservedConnections}`,
        );
    }
    return problems;
}

/**
 * Connects to each server once (and to each adopted database); resolves to
 * every problem found (empty when all is well). Each server's roles are put in
 * `liveRoles`, for the budget, and what it holds of `apps` in `adoption`.
 */
export async function preflight(
    servers: Readonly<Record<string, ServerConfig>>,
    liveRoles: Record<string, LiveRole[]> = {},
    apps: readonly ResolvedApp[] = [],
    adoption: Record<string, ServerAdoptionFacts> = {},
): Promise<string[]> {
    const checks = Object.entries(servers).map(async ([name, server]) => {
        try {
            const connection = adminConnectionOf(server);
            const onServer = apps.filter((a) => a.server === name);
            const facts = await withAdminClient(connection, async (client) => {
                const row = await client.query<{ version_num: number; max_connections: number; reserved: number }>(serverSettingsQuery());
                const r = row.rows[0];
                liveRoles[name] = await readLiveRoles(client);
                return { versionNum: r.version_num, maxConnections: r.max_connections, superuserReservedConnections: r.reserved };
            });
            adoption[name] = await readAdoptionFacts(connection, onServer);
            return [...factProblems(name, server, facts), ...adoptionProblems(name, onServer, adoption[name], server.admin.username)];
        } catch (err) {
            return [`server ${name}: ${(err as Error).message}`];
        }
    });
    return (await Promise.all(checks)).flat();
}
