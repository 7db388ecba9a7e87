/**
 * Connection pooling in the stack: each server's `pooler` checked against its
 * apps (pool sizes, session mode, ports, TLS), the budget rows of what the
 * pooler opens, and the PgBouncer declared with the apps' runtime logins.
 */
import * as pulumi from "@pulumi/pulumi";
import { connectionUrl } from "../components/connectionUrl";
import { PgBouncer } from "../components/pgbouncer";
import { AppPool, appPool, appPoolProblem, PooledApp } from "../components/poolerPlan";
import type { ConfigIssue, ResolvedApp, ServerConfig } from "./config";
import { roleNamesFor } from "../components/identifiers";
import type { SslMode } from "../components/defaults";

/** The apps of `server` that its pooler serves (every app placed on it), with their runtime role and limit. */
export function pooledApps(server: string, apps: Readonly<Record<string, ResolvedApp>>): PooledApp[] {
    return Object.values(apps)
        .filter((a) => a.server === server && a.placement === "shared")
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((a) => ({
            app: a.name,
            database: a.database,
            runtimeRole: roleNamesFor(a.name, a.roles).runtime,
            connectionLimit: a.connectionLimit,
        }));
}

/** Each pooled app's pool on `server`, as its pooler is configured. */
export function serverPools(server: string, config: ServerConfig, apps: Readonly<Record<string, ResolvedApp>>): AppPool[] {
    const pooler = config.pooler;
    if (!pooler) return [];
    return pooledApps(server, apps).map((a) => appPool(a, pooler));
}

const LOCAL_HOSTS = ["127.0.0.1", "localhost", "::1"];

/** Problems of every server's pooler, by config path: pools that do not fit, session mode, ports, TLS. */
export function poolerIssues(apps: Readonly<Record<string, ResolvedApp>>, servers: Readonly<Record<string, ServerConfig>>): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    // The poolers listen on the host itself: a local server's port or a published container's port clashes.
    const taken = new Map<number, string>();
    for (const [key, server] of Object.entries(servers))
        if (LOCAL_HOSTS.includes(server.host)) taken.set(server.port, `servers.${key}.port`);
    for (const app of Object.values(apps))
        if (app.dedicated?.hostPort !== undefined) taken.set(app.dedicated.hostPort, `apps.${app.name}.dedicated.hostPort`);

    for (const [key, server] of Object.entries(servers)) {
        const pooler = server.pooler;
        if (!pooler) continue;
        const at = `servers.${key}.pooler`;
        // A pooler the stack does not deploy: its pools are checked, its port and its TLS are its own.
        const owner = pooler.existing ? undefined : taken.get(pooler.hostPort);
        if (pooler.existing) {
            // nothing listens here for the stack
        } else if (owner) {
            issues.push({
                path: `${at}.hostPort`,
                message: `port ${pooler.hostPort} is also used by ${owner}; set a different ${at}.hostPort`,
            });
        } else {
            taken.set(pooler.hostPort, `${at}.hostPort`);
        }
        if (!pooler.existing && (server.sslmode === "verify-ca" || server.sslmode === "verify-full")) {
            issues.push({
                path: at,
                message: `the pooler cannot verify the server's certificate (sslmode ${server.sslmode}): no CA file is given to it yet; use sslmode require for this server, or remove the pooler`,
            });
        }
        const pools = serverPools(key, server, apps);
        for (const pool of pools) {
            const why = appPoolProblem(pool, pooler);
            if (why)
                issues.push({
                    path: pooler.poolSize !== undefined ? `${at}.poolSize` : `apps.${pool.app}.connectionLimit`,
                    message: `${pool.app}: ${why}`,
                });
        }
        const serverSide = pools.reduce((sum, p) => sum + p.perInstance, 0);
        if (!pooler.existing && pooler.mode === "session" && pooler.maxClientConnections > serverSide) {
            issues.push({
                path: `${at}.maxClientConnections`,
                message:
                    `session mode holds a server connection per client: expected at most ${serverSide} (the pools' server connections per instance), ` +
                    `got ${pooler.maxClientConnections}; lower it, or use mode transaction`,
            });
        }
    }
    return issues;
}

/** Per pooled runtime role, the server connections its pooler may open: the budget's pooled rows. */
export function pooledBudgetRows(server: string, config: ServerConfig, apps: Readonly<Record<string, ResolvedApp>>) {
    return Object.fromEntries(
        serverPools(server, config, apps).map((p) => [
            p.runtimeRole,
            {
                connections: p.serverConnections,
                detail:
                    `${config.pooler!.instances} × (pool ${p.poolSize} + reserve ${p.reservePoolSize})` +
                    (config.pooler!.existing ? `, existing pooler at ${config.pooler!.existing.host}:${config.pooler!.existing.port}` : ""),
            },
        ]),
    );
}

/** A runtime login as AppDatabase hands it out, read from its URL (user and password are percent-encoded there). */
export function loginOf(url: string): { user: string; password: string } {
    const u = new URL(url);
    return { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
}

export interface PooledRuntime {
    readonly app: ResolvedApp;
    readonly runtimeUrl: pulumi.Output<string>;
}

/**
 * Declares the PgBouncer of `server` for its apps and returns each app's pooled
 * URL (secret): the same login and database, the pooler's address, no TLS on
 * the pooler's side (it listens on the host), the server's URL parameters.
 */
export function declarePooler(
    name: string,
    server: ServerConfig,
    stack: string,
    runtimes: readonly PooledRuntime[],
    opts: pulumi.ComponentResourceOptions = {},
): Record<string, pulumi.Output<string>> {
    const pooler = server.pooler!;
    const logins = Object.fromEntries(runtimes.map((r) => [r.app.name, pulumi.secret(r.runtimeUrl.apply(loginOf))]));
    const pooledUrls = (host: pulumi.Input<string>, port: pulumi.Input<number>, sslmode: SslMode) =>
        Object.fromEntries(
            runtimes.map(({ app }) => [
                app.name,
                pulumi.secret(
                    pulumi.all([logins[app.name], host, port]).apply(([l, h, p]) =>
                        connectionUrl({
                            host: h,
                            port: p,
                            database: app.database,
                            user: l.user,
                            password: l.password,
                            sslmode,
                            connectTimeoutSeconds: server.connectTimeoutSeconds,
                            parameters: server.urlParameters,
                        }),
                    ),
                ),
            ]),
        );
    // The user's own pooler: nothing to deploy; it must know the runtime logins (README: "A pooler you already run").
    if (pooler.existing) return pooledUrls(pooler.existing.host, pooler.existing.port, pooler.existing.sslmode);
    const bouncer = new PgBouncer(
        `${name}-pooler`,
        {
            server: name,
            stack,
            image: pooler.image,
            upstream: { host: server.host, port: server.port, sslmode: server.sslmode },
            mode: pooler.mode,
            instances: pooler.instances,
            maxClientConnections: pooler.maxClientConnections,
            listenAddress: pooler.listenAddress,
            port: pooler.hostPort,
            reservePoolSize: pooler.reservePoolSize,
            ...(pooler.poolSize !== undefined ? { poolSize: pooler.poolSize } : {}),
            apps: runtimes.map(({ app }) => ({
                app: app.name,
                database: app.database,
                runtimeRole: roleNamesFor(app.name, app.roles).runtime,
                connectionLimit: app.connectionLimit,
                login: logins[app.name],
                idleSessionTimeoutMs: app.idleSessionTimeoutMs,
            })),
        },
        opts,
    );
    // No TLS on the pooler's side: it listens on the host.
    return pooledUrls(bouncer.host, bouncer.port, "disable");
}
