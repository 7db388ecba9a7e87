/**
 * Preflight: before anything is declared, connect to every shared server as
 * its admin and check what the plan assumes. An unreachable server, a wrong
 * password or a budget computed on the wrong max_connections fails the preview
 * with a message naming the server, host and port; nothing is applied.
 */
import { AdminConnection, withAdminClient } from "./adminConnection";
import { ServerConfig } from "./config";

/** What a server says about itself. */
export interface ServerFacts {
    readonly versionNum: number;
    readonly maxConnections: number;
    readonly superuserReservedConnections: number;
    /**
     * Schema `public` in template1, which new databases copy; read only where
     * the program cannot fix it itself (PostgreSQL 14, admin not a superuser).
     */
    readonly templatePublicSchema?: {
        readonly owner: string;
        /** PUBLIC may create there (PostgreSQL 14's default). */
        readonly publicCreate: boolean;
        /** The admin may give the migrate roles CREATE there (owner, or CREATE WITH GRANT OPTION). */
        readonly adminCanGrant: boolean;
    };
}

export function adminConnectionOf(server: ServerConfig): AdminConnection {
    return {
        host: server.host,
        port: server.port,
        username: server.admin.username,
        password: server.admin.password,
        database: server.maintenanceDatabase,
        sslmode: server.sslmode,
        sslrootcert: server.sslrootcert,
        sslcert: server.admin.sslcert,
        sslkey: server.admin.sslkey,
        connectTimeoutSeconds: server.connectTimeoutSeconds,
        superuser: server.admin.superuser,
    };
}

/** Problems with what the config assumes about a server, given what it says. */
export function factProblems(name: string, server: ServerConfig, facts: ServerFacts): string[] {
    const problems: string[] = [];
    if (facts.versionNum < 140000) {
        problems.push(
            `server ${name} runs PostgreSQL ${Math.floor(facts.versionNum / 10000)}; 14 or newer is needed (idle_session_timeout)`,
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
    const schema = facts.templatePublicSchema;
    if (schema && (schema.publicCreate || !schema.adminCanGrant)) {
        const admin = server.admin.username;
        problems.push(
            `server ${name} runs PostgreSQL ${Math.floor(facts.versionNum / 10000)}, where every role may create in schema public, and its admin ${admin} is not a superuser: ` +
                `it can neither revoke that from PUBLIC nor grant it to the migrate roles (the schema belongs to ${schema.owner}). ` +
                `Once, as ${schema.owner} in template1 (new databases copy it): REVOKE CREATE ON SCHEMA public FROM PUBLIC; ` +
                `GRANT CREATE, USAGE ON SCHEMA public TO ${admin} WITH GRANT OPTION;`,
        );
    }
    return problems;
}

/** Schema `public` of template1, as the admin sees it. */
async function templatePublicSchema(server: ServerConfig): Promise<ServerFacts["templatePublicSchema"]> {
    return withAdminClient(
        adminConnectionOf(server),
        async (client) => {
            const row = await client.query<{ owner: string; public_create: boolean; admin_can_grant: boolean }>(
                `SELECT pg_get_userbyid(nspowner) AS owner,
                        EXISTS (SELECT 1 FROM aclexplode(coalesce(nspacl, acldefault('n', nspowner))) a
                                 WHERE a.grantee = 0 AND a.privilege_type = 'CREATE') AS public_create,
                        pg_has_role(current_user, nspowner, 'USAGE')
                          OR has_schema_privilege(current_user, oid, 'CREATE WITH GRANT OPTION') AS admin_can_grant
                   FROM pg_namespace WHERE nspname = 'public'`,
            );
            const r = row.rows[0];
            return r && { owner: r.owner, publicCreate: r.public_create, adminCanGrant: r.admin_can_grant };
        },
        "template1",
    );
}

/** Connects to each server (twice for a PostgreSQL 14 server with a non-superuser admin); resolves to every problem found (empty when all is well). */
export async function preflight(servers: Readonly<Record<string, ServerConfig>>): Promise<string[]> {
    const checks = Object.entries(servers).map(async ([name, server]) => {
        try {
            const facts = await withAdminClient(adminConnectionOf(server), async (client) => {
                const row = await client.query<{ version_num: number; max_connections: number; reserved: number }>(
                    `SELECT current_setting('server_version_num')::int AS version_num,
                            current_setting('max_connections')::int AS max_connections,
                            current_setting('superuser_reserved_connections')::int AS reserved`,
                );
                const r = row.rows[0];
                return { versionNum: r.version_num, maxConnections: r.max_connections, superuserReservedConnections: r.reserved };
            });
            const needsTemplate = facts.versionNum < 150000 && !server.admin.superuser;
            return factProblems(
                name,
                server,
                needsTemplate ? { ...facts, templatePublicSchema: await templatePublicSchema(server) } : facts,
            );
        } catch (err) {
            return [`server ${name}: ${(err as Error).message}`];
        }
    });
    return (await Promise.all(checks)).flat();
}
