/**
 * DedicatedServer: a PostgreSQL container of one application's own, on a
 * Docker engine: its own network, a named volume per app and stack, its own
 * image version, a pg_isready healthcheck the deploy waits on, tuning flags,
 * a memory limit, rotated logs. Dev stacks publish its port on 127.0.0.1 only;
 * prod stacks publish none.
 *
 * It gives AppDatabase the same three things a SharedServer does, so an app's
 * roles, grants and outputs look the same whichever placement it has.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import * as random from "@pulumi/random";
import { AdminConnection } from "./adminConnection";
import { DEFAULT_CONNECT_TIMEOUT_SECONDS, DEFAULT_PROVISIONING_CONNECTIONS } from "./config";
import { PostgresServer, ServerEndpoint } from "./sharedServer";
import { PASSWORD_LENGTH } from "./loginRole";

export const DEDICATED_SERVER_TYPE = "app-databases:index:DedicatedServer";

/** Where the official image (and ours) keeps its data. */
export const PGDATA = "/var/lib/postgresql/data";
const SUPERUSER = "postgres";

export interface DedicatedServerArgs {
    /** The application the server belongs to; names the network, volume and container. */
    readonly app: string;
    /** The stack; volumes are per app *and* stack so dev and prod never share data. */
    readonly stack: string;
    /** Image reference, e.g. `postgres:16-alpine` or a local/registry image. */
    readonly image: string;
    /** Container memory limit, MB; shared_buffers and friends are sized from it. */
    readonly memoryMb: number;
    /** max_connections, normally sized by the app's ConnectionBudget. */
    readonly maxConnections: number;
    /** Publish 5432 on 127.0.0.1:hostPort (dev); undefined publishes nothing (prod). */
    readonly hostPort?: number;
    /** `-c` settings that win over the computed tuning. @default {} */
    readonly settings?: Readonly<Record<string, string>>;
    /** Pool size of the provisioning provider. @default 2 */
    readonly provisioningConnections?: number;
    /** Protect the volume and retain it on delete (prod). @default false */
    readonly protect?: boolean;
}

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.floor(n)));

/**
 * Tuning flags for a container with `memoryMb` of memory (seed 003's rules:
 * shared_buffers ~25%, effective_cache_size ~75%, work_mem small because it
 * multiplies by connections), then the user's settings on top.
 */
export function tuningSettings(
    memoryMb: number,
    maxConnections: number,
    overrides: Readonly<Record<string, string>> = {},
): Record<string, string> {
    return {
        max_connections: String(maxConnections),
        shared_buffers: `${clamp(memoryMb / 4, 16, 65_536)}MB`,
        effective_cache_size: `${clamp((memoryMb * 3) / 4, 32, 262_144)}MB`,
        maintenance_work_mem: `${clamp(memoryMb / 16, 16, 2048)}MB`,
        work_mem: `${clamp(memoryMb / (maxConnections * 4), 1, 64)}MB`,
        ...overrides,
    };
}

/** Resource names on the Docker engine, per app and stack. */
export function dedicatedNames(app: string, stack: string) {
    const base = `app-databases-${stack}-${app}`;
    return { network: `${base}-net`, volume: `${base}-data`, container: `${base}-db` };
}

export class DedicatedServer extends pulumi.ComponentResource implements PostgresServer {
    public readonly provider: postgresql.Provider;
    public readonly connection: pulumi.Output<AdminConnection>;
    public readonly endpoint: ServerEndpoint;
    public readonly container: docker.Container;
    public readonly volume: docker.Volume;
    public readonly network: docker.Network;
    /** Secret: the container's superuser password. */
    public readonly superuserPassword: pulumi.Output<string>;

    constructor(name: string, args: DedicatedServerArgs, opts: pulumi.ComponentResourceOptions = {}) {
        if (args.hostPort !== undefined && (args.hostPort < 1 || args.hostPort > 65_535)) {
            throw new Error(`DedicatedServer: \`hostPort\` must be a TCP port, got ${args.hostPort}`);
        }
        super(DEDICATED_SERVER_TYPE, name, {}, opts);
        const names = dedicatedNames(args.app, args.stack);
        const protect = args.protect ?? false;
        const labels = [
            { label: "app-databases.app", value: args.app },
            { label: "app-databases.stack", value: args.stack },
        ];

        const password = new random.RandomPassword(
            `${name}-superuser-password`,
            { length: PASSWORD_LENGTH, special: false, minLower: 1, minUpper: 1, minNumeric: 1 },
            { parent: this },
        );
        this.superuserPassword = pulumi.secret(password.result);

        this.network = new docker.Network(`${name}-network`, { name: names.network, driver: "bridge", labels }, { parent: this });

        // The data outlives containers; in prod it also outlives the stack.
        this.volume = new docker.Volume(`${name}-data`, { name: names.volume, labels }, { parent: this, protect, retainOnDelete: protect });

        const settings = tuningSettings(args.memoryMb, args.maxConnections, args.settings);
        this.container = new docker.Container(
            `${name}-postgres`,
            {
                name: names.container,
                image: args.image,
                envs: [
                    pulumi.interpolate`POSTGRES_PASSWORD=${this.superuserPassword}`,
                    `POSTGRES_USER=${SUPERUSER}`,
                    `POSTGRES_DB=${SUPERUSER}`,
                    `PGDATA=${PGDATA}`,
                ],
                command: ["postgres", ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])],
                volumes: [{ volumeName: this.volume.name, containerPath: PGDATA }],
                networksAdvanced: [{ name: this.network.name, aliases: [`${args.app}-db`] }],
                ports: args.hostPort === undefined ? [] : [{ internal: 5432, external: args.hostPort, ip: "127.0.0.1" }],
                healthcheck: {
                    tests: ["CMD-SHELL", `pg_isready -U ${SUPERUSER} -d ${SUPERUSER}`],
                    interval: "2s",
                    timeout: "5s",
                    retries: 30,
                    startPeriod: "5s",
                },
                // Create returns only once pg_isready passes: nothing connects too early (pulumi/pulumi #3166).
                wait: true,
                waitTimeout: 180,
                memory: args.memoryMb,
                // Equal to memory: no swap for a database (and Docker's default of twice memory reads back as a diff).
                memorySwap: args.memoryMb,
                restart: "unless-stopped",
                logDriver: "json-file",
                logOpts: { "max-size": "10m", "max-file": "3" },
                labels,
                destroyGraceSeconds: 30,
            },
            // The name is fixed, so a replacement must remove the old container first; the volume stays.
            { parent: this, deleteBeforeReplace: true },
        );

        // Dev reaches the container through its published port; prod through its address on the app's network.
        const adminHost: pulumi.Output<string> =
            args.hostPort !== undefined
                ? this.container.id.apply(() => "127.0.0.1")
                : this.container.networkDatas.apply((n) => n?.find((d) => d.networkName === names.network)?.ipAddress ?? "");
        const adminPort = args.hostPort ?? 5432;
        this.provider = new postgresql.Provider(
            `${name}-provider`,
            {
                host: adminHost,
                port: adminPort,
                username: SUPERUSER,
                password: this.superuserPassword,
                sslmode: "disable",
                database: SUPERUSER,
                superuser: true,
                connectTimeout: DEFAULT_CONNECT_TIMEOUT_SECONDS,
                maxConnections: args.provisioningConnections ?? DEFAULT_PROVISIONING_CONNECTIONS,
            },
            { parent: this, dependsOn: [this.container] },
        );
        this.connection = pulumi.secret(
            pulumi.all([adminHost, this.superuserPassword]).apply(([host, pw]) => ({
                host,
                port: adminPort,
                username: SUPERUSER,
                password: pw,
                database: SUPERUSER,
                sslmode: "disable",
                connectTimeoutSeconds: DEFAULT_CONNECT_TIMEOUT_SECONDS,
                superuser: true,
            })),
        );
        this.endpoint = {
            host: args.hostPort !== undefined ? "127.0.0.1" : this.container.name,
            port: adminPort,
            internalHost: this.container.name,
            internalPort: 5432,
            // The container network is private to the host; the image has no TLS certificate.
            sslmode: "disable",
            connectTimeoutSeconds: DEFAULT_CONNECT_TIMEOUT_SECONDS,
            urlParameters: {},
        };
        this.registerOutputs({
            containerName: this.container.name,
            networkName: this.network.name,
            volumeName: this.volume.name,
            hostPort: args.hostPort,
        });
    }
}
