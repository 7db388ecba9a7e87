/**
 * PgBouncer: a connection pooler in front of one server, as containers on the
 * Docker engine (the local image of scripts/pgbouncer-image.sh), sized from
 * the connection budget (poolerPlan.ts).
 *
 * The containers use the host's network: PgBouncer listens on the host's
 * address and port itself (several instances share the port, so_reuseport),
 * and reaches the server as the host does, a loopback cluster included.
 *
 * Authentication is an auth file of the runtime roles' own passwords, the
 * ones the stack generated or was given: PgBouncer does SCRAM with clients
 * and with the server from it. No superuser reads pg_authid, no lookup role
 * or SECURITY DEFINER function sits in every database, and the pooler opens
 * no connection of its own to authenticate. A rotated password reaches it by
 * reload (PoolerConfig), which keeps every client connected.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { checkInt, checkOneOf, checkText, SSL_MODES, SslMode } from "./defaults";
import { identifierProblem } from "./identifiers";
import { PoolerConfig } from "./poolerConfig";
import {
    AppPool,
    appPool,
    appPoolProblem,
    authFile,
    DEFAULT_POOLER_IMAGE,
    PoolMode,
    POOL_MODES,
    POOLER_RANGES,
    PooledApp,
    pgbouncerIni,
} from "./poolerPlan";

export const PGBOUNCER_TYPE = "app-databases:index:PgBouncer";
const COMPONENT = "PgBouncer";

/** One app behind the pooler, with the login its clients use (secret password). */
export interface PgBouncerApp extends PooledApp {
    /** The runtime login clients use (its name may alternate with zero-downtime rotation); secret. */
    readonly login: pulumi.Input<{ readonly user: string; readonly password: string }>;
    /** The runtime role's idle_session_timeout, ms (0: none). */
    readonly idleSessionTimeoutMs: number;
}

export interface PgBouncerArgs {
    /** The server's name; names the containers with the stack. */
    readonly server: string;
    readonly stack: string;
    /** @default app-databases/pgbouncer:1.18 */
    readonly image?: string;
    readonly upstream: { readonly host: string; readonly port: number; readonly sslmode: SslMode };
    /** @default transaction */
    readonly mode?: PoolMode;
    /** @default 1 */
    readonly instances?: number;
    readonly maxClientConnections: number;
    readonly listenAddress: string;
    readonly port: number;
    /** @default 0 */
    readonly reservePoolSize?: number;
    /** One pool size for every app; derived from each runtime role's limit when omitted. */
    readonly poolSize?: number;
    readonly apps: readonly PgBouncerApp[];
}

/** Container names on the engine, per server, stack and instance. */
export const pgbouncerContainerName = (stack: string, server: string, instance: number) =>
    `app-databases-${stack}-${server}-pgbouncer-${instance}`;

/** The server idle timeout: half the shortest idle_session_timeout of the pooled roles (PgBouncer's 600 s when none). */
export function serverIdleTimeoutSeconds(apps: readonly { idleSessionTimeoutMs: number }[]): number {
    const timeouts = apps.map((a) => a.idleSessionTimeoutMs).filter((ms) => ms > 0);
    return timeouts.length === 0 ? 600 : Math.max(1, Math.min(600, Math.floor(Math.min(...timeouts) / 2000)));
}

/** Checks the args and sizes every app's pool; throws naming the argument. */
export function resolvePgBouncerArgs(args: PgBouncerArgs): { args: PgBouncerArgs; pools: AppPool[] } {
    const problem = identifierProblem(args.server);
    if (problem) throw new Error(`${COMPONENT}: \`server\` ${problem}`);
    checkText(COMPONENT, "stack", args.stack, "the stack's name");
    checkText(COMPONENT, "upstream.host", args.upstream.host, "the server's host");
    checkOneOf(COMPONENT, "upstream.sslmode", args.upstream.sslmode, SSL_MODES);
    checkOneOf(COMPONENT, "mode", args.mode ?? "transaction", POOL_MODES);
    const sizing = {
        instances: checkInt(COMPONENT, "instances", args.instances ?? 1, POOLER_RANGES.instances),
        reservePoolSize: checkInt(COMPONENT, "reservePoolSize", args.reservePoolSize ?? 0, POOLER_RANGES.reservePoolSize),
        ...(args.poolSize !== undefined ? { poolSize: checkInt(COMPONENT, "poolSize", args.poolSize, POOLER_RANGES.poolSize) } : {}),
    };
    checkInt(COMPONENT, "maxClientConnections", args.maxClientConnections, POOLER_RANGES.maxClientConnections);
    const pools = args.apps.map((app) => {
        const pool = appPool(app, sizing);
        const why = appPoolProblem(pool, sizing);
        if (why) throw new Error(`${COMPONENT}: \`apps.${app.app}\`: ${why}`);
        return pool;
    });
    return { args, pools };
}

export class PgBouncer extends pulumi.ComponentResource {
    /** Where clients connect: the listen address (127.0.0.1 for a wildcard) and port. */
    public readonly host: string;
    public readonly port: number;
    public readonly containers: docker.Container[];
    /** Each app's pool, as sized. */
    public readonly pools: readonly AppPool[];

    constructor(name: string, pgbouncerArgs: PgBouncerArgs, opts: pulumi.ComponentResourceOptions = {}) {
        const { args, pools } = resolvePgBouncerArgs(pgbouncerArgs);
        super(PGBOUNCER_TYPE, name, {}, opts);
        this.pools = pools;
        this.port = args.port;
        this.host = ["0.0.0.0", "*", "::", ""].includes(args.listenAddress) ? "127.0.0.1" : args.listenAddress;
        const ini = pgbouncerIni(
            {
                mode: args.mode ?? "transaction",
                listenAddress: args.listenAddress,
                port: args.port,
                maxClientConnections: args.maxClientConnections,
                upstream: args.upstream,
                serverIdleTimeoutSeconds: serverIdleTimeoutSeconds(args.apps),
            },
            pools,
        );
        const users = pulumi
            .all(args.apps.map((a) => pulumi.output(a.login).apply((l) => ({ name: l.user, password: l.password }))))
            .apply(authFile);
        // The auth file first: PgBouncer starts once the ini is there, and reads both.
        const files = pulumi.secret(users.apply((userlist) => ({ "userlist.txt": userlist, "pgbouncer.ini": ini })));
        const labels = [
            { label: "app-databases.server", value: args.server },
            { label: "app-databases.stack", value: args.stack },
        ];
        this.containers = [];
        for (let i = 0; i < (args.instances ?? 1); i++) {
            const container = new docker.Container(
                `${name}-pgbouncer-${i}`,
                {
                    name: pgbouncerContainerName(args.stack, args.server, i),
                    image: args.image ?? DEFAULT_POOLER_IMAGE,
                    networkMode: "host",
                    // Where it listens is the one setting PgBouncer cannot reload: as part of the
                    // container, a change of it replaces (restarts) the container, and the preview says so.
                    envs: [`PGBOUNCER_LISTEN=${args.listenAddress}:${args.port}`],
                    restart: "unless-stopped",
                    logDriver: "json-file",
                    logOpts: { "max-size": "10m", "max-file": "3" },
                    labels,
                    destroyGraceSeconds: 10,
                },
                { parent: this, deleteBeforeReplace: true },
            );
            new PoolerConfig(
                `${name}-pgbouncer-${i}-config`,
                { containerId: container.id, files, listen: { host: this.host, port: args.port } },
                { parent: this, dependsOn: [container] },
            );
            this.containers.push(container);
        }
        this.registerOutputs({ host: this.host, port: this.port, containers: this.containers.map((c) => c.name) });
    }
}
