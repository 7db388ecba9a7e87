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
import { dedicatedHbaLines } from "./hbaRules";
import { ServerHba } from "./serverHba";
import {
    checkInt,
    checkText,
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_DEDICATED_MEMORY_MB,
    DEFAULT_PROVISIONING_CONNECTIONS,
    describeValue,
    inRange,
    RANGES,
    SslMode,
} from "./defaults";
import { identifierProblem } from "./identifiers";
import { PostgresServer, ServerEndpoint } from "./sharedServer";
import { PASSWORD_LENGTH } from "./managedRoles";

export const DEDICATED_SERVER_TYPE = "app-databases:index:DedicatedServer";

/** Where the official image (and ours) keeps its data. */
export const PGDATA = "/var/lib/postgresql/data";
const SUPERUSER = "postgres";
/** The container network is private to the host, and the image has no TLS certificate. */
const DEDICATED_SSL_MODE: SslMode = "disable";

export interface DedicatedServerArgs {
    /** The application the server belongs to; names the network, volume and container. */
    readonly app: string;
    /** The stack; volumes are per app *and* stack so dev and prod never share data. */
    readonly stack: string;
    /** Image reference, e.g. `postgres:16-alpine` or a local/registry image. */
    readonly image: string;
    /** Container memory limit, MB; shared_buffers and friends are sized from it. @default 512 */
    readonly memoryMb?: number;
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
    /**
     * The app's database and login roles: pg_hba.conf lets only these roles
     * in, only to that database, only from the app's network (and the
     * superuser from there). @default any role from the app's network
     */
    readonly clients?: { readonly database: string; readonly roles: readonly string[] };
    /**
     * Which container this is: carried on it as the `app-databases.instance`
     * label and in its admin connection. The program keeps the live
     * container's value, and gives a new one when the container is gone, so
     * that the engine replaces the container (on the same volume) and applies
     * again what lives on the server (program/dedicatedState.ts). @default no label
     */
    readonly instance?: string;
    /**
     * The data volume the server runs on: `dedicatedNames(app, stack).volume`,
     * or the one a major-version upgrade made (`volumeForMajor`).
     * @default dedicatedNames(app, stack).volume
     */
    readonly volume?: string;
    /**
     * Data volumes of the app kept beside the one it runs on: an upgrade's
     * rollback (the old major's data, as it was when the copy was taken).
     * Declared with retainOnDelete, so that dropping one from this list (after
     * the user removed it from the engine) never deletes data. @default []
     */
    readonly keptVolumes?: readonly string[];
}

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.floor(n)));

/**
 * Tuning flags for a container with `memoryMb` of memory: shared_buffers
 * about 25% of it, effective_cache_size about 75%, work_mem small because
 * every connection may use it several times; then the user's settings on top.
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

/** The container's command: the server with each setting as `-c name=value`. */
export function postgresCommand(settings: Readonly<Record<string, string>>): string[] {
    return ["postgres", ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])];
}

const COMPONENT = "DedicatedServer";
/** A server setting's name, as `-c name=value` takes it. */
const SETTING_NAME = /^[a-z_][a-z0-9_.]*$/;
/** A plain setting value: nothing a shell or the command line would split or interpret. */
const SETTING_VALUE = /^[A-Za-z0-9_.:-]+$/;

/** DedicatedServerArgs with every default filled in (hostPort stays optional: none is published). */
export type ResolvedDedicatedServerArgs = Required<Omit<DedicatedServerArgs, "hostPort" | "clients" | "instance">> &
    Pick<DedicatedServerArgs, "hostPort" | "clients" | "instance">;

/** Fills in DedicatedServer defaults; throws naming the argument and the value when one is unusable. */
export function resolveDedicatedServerArgs(args: DedicatedServerArgs): ResolvedDedicatedServerArgs {
    const problem = identifierProblem(args.app);
    if (problem) throw new Error(`${COMPONENT}: \`app\` ${problem}`);
    if (args.hostPort !== undefined && !inRange(args.hostPort, RANGES.hostPort)) {
        throw new Error(
            `${COMPONENT}: \`hostPort\` must be a TCP port, got ${describeValue(args.hostPort)}; expected ${RANGES.hostPort.what}`,
        );
    }
    const settings = args.settings ?? {};
    for (const [key, value] of Object.entries(settings)) {
        if (!SETTING_NAME.test(key)) throw new Error(`${COMPONENT}: \`settings\` must name PostgreSQL settings, got ${describeValue(key)}`);
        if (!SETTING_VALUE.test(value)) {
            throw new Error(
                `${COMPONENT}: \`settings.${key}\` must be a plain value (letters, digits, . _ : -), got ${describeValue(value)}`,
            );
        }
    }
    return {
        app: args.app,
        stack: checkText(COMPONENT, "stack", args.stack, "the stack's name"),
        image: checkText(COMPONENT, "image", args.image, "a Docker image reference"),
        memoryMb: checkInt(COMPONENT, "memoryMb", args.memoryMb ?? DEFAULT_DEDICATED_MEMORY_MB, RANGES.memoryMb),
        maxConnections: checkInt(COMPONENT, "maxConnections", args.maxConnections, RANGES.maxConnections),
        ...(args.hostPort !== undefined ? { hostPort: args.hostPort } : {}),
        settings,
        provisioningConnections: checkInt(
            COMPONENT,
            "provisioningConnections",
            args.provisioningConnections ?? DEFAULT_PROVISIONING_CONNECTIONS,
            RANGES.provisioningConnections,
        ),
        protect: args.protect ?? false,
        ...(args.clients ? { clients: checkClients(args.clients) } : {}),
        ...(args.instance !== undefined ? { instance: checkText(COMPONENT, "instance", args.instance, "a label value") } : {}),
        ...checkVolumes(args),
    };
}

/** The serving and kept volumes: each one of this app's data volumes, none twice. */
function checkVolumes(args: DedicatedServerArgs): { volume: string; keptVolumes: readonly string[] } {
    const base = dedicatedNames(args.app, checkText(COMPONENT, "stack", args.stack, "the stack's name")).volume;
    const volume = args.volume ?? base;
    const kept = args.keptVolumes ?? [];
    for (const [field, name] of [["volume", volume] as const, ...kept.map((v, i) => [`keptVolumes.${i}`, v] as const)]) {
        if (volumeSuffix(base, name) === undefined) {
            throw new Error(`${COMPONENT}: \`${field}\` must be ${base} or ${base}-<major>, got ${describeValue(name)}`);
        }
    }
    if (kept.includes(volume) || new Set(kept).size !== kept.length) {
        throw new Error(
            `${COMPONENT}: \`keptVolumes\` must name other volumes than \`volume\`, each once, got ${describeValue(kept.join(", "))}`,
        );
    }
    return { volume, keptVolumes: kept };
}

/** "" for the app's first volume, the major for one an upgrade made, undefined for a name of neither kind. */
export function volumeSuffix(base: string, volume: string): string | undefined {
    if (volume === base) return "";
    const m = /^-(\d+)$/.exec(volume.slice(base.length));
    return volume.startsWith(base) && m ? m[1] : undefined;
}

/** The volume an upgrade to `major` copies the data into: `<first volume>-<major>`. */
export const volumeForMajor = (base: string, major: string): string => `${base}-${major}`;

/**
 * A file an upgrade writes into the new data directory before it copies and
 * removes once the copy is verified: a volume that holds it never served, and
 * the next `up` starts the copy over.
 */
export const UPGRADE_MARKER = "app-databases-upgrade-unfinished";

function checkClients(clients: NonNullable<DedicatedServerArgs["clients"]>): NonNullable<DedicatedServerArgs["clients"]> {
    for (const [field, name] of [["clients.database", clients.database], ...clients.roles.map((r, i) => [`clients.roles.${i}`, r])]) {
        const problem = identifierProblem(name);
        if (problem) throw new Error(`${COMPONENT}: \`${field}\` ${problem}`);
    }
    return clients;
}

/** Resource names on the Docker engine, per app and stack. */
export function dedicatedNames(app: string, stack: string) {
    const base = `app-databases-${stack}-${app}`;
    return { network: `${base}-net`, volume: `${base}-data`, container: `${base}-db` };
}

/** The label that names a container's instance (DedicatedServerArgs.instance). */
export const INSTANCE_LABEL = "app-databases.instance";

/** The labels of a dedicated server's network, volume and container. */
export function dedicatedLabels(app: string, stack: string): { label: string; value: string }[] {
    return [
        { label: "app-databases.app", value: app },
        { label: "app-databases.stack", value: stack },
    ];
}

export class DedicatedServer extends pulumi.ComponentResource implements PostgresServer {
    public readonly provider: postgresql.Provider;
    public readonly connection: pulumi.Output<AdminConnection>;
    public readonly endpoint: ServerEndpoint;
    public readonly container: docker.Container;
    public readonly volume: docker.Volume;
    /** The volumes kept as rollbacks (DedicatedServerArgs.keptVolumes). */
    public readonly keptVolumes: docker.Volume[];
    public readonly network: docker.Network;
    /** The server's pg_hba.conf, written by the stack. */
    public readonly hba: ServerHba;
    /** Secret: the container's superuser password. */
    public readonly superuserPassword: pulumi.Output<string>;

    constructor(name: string, dedicatedArgs: DedicatedServerArgs, opts: pulumi.ComponentResourceOptions = {}) {
        const args = resolveDedicatedServerArgs(dedicatedArgs); // bad input fails before anything is registered
        super(DEDICATED_SERVER_TYPE, name, {}, opts);
        const names = dedicatedNames(args.app, args.stack);
        const protect = args.protect;
        const labels = dedicatedLabels(args.app, args.stack);
        // Without an instance, no label: a container made before instances shows no change.
        const containerLabels = args.instance === undefined ? labels : [...labels, { label: INSTANCE_LABEL, value: args.instance }];

        const password = new random.RandomPassword(
            `${name}-superuser-password`,
            { length: PASSWORD_LENGTH, special: false, minLower: 1, minUpper: 1, minNumeric: 1 },
            { parent: this },
        );
        this.superuserPassword = pulumi.secret(password.result);

        this.network = new docker.Network(`${name}-network`, { name: names.network, driver: "bridge", labels }, { parent: this });

        // The data outlives containers; in prod it also outlives the stack. Each volume's resource
        // is named from its own suffix, so a new one is a create and the old one stays as it is.
        const volumeResource = (volume: string) =>
            `${name}-data${volumeSuffix(names.volume, volume) ? `-${volumeSuffix(names.volume, volume)}` : ""}`;
        this.volume = new docker.Volume(
            volumeResource(args.volume),
            { name: args.volume, labels },
            { parent: this, protect, retainOnDelete: protect },
        );
        // A kept volume is never deleted by the engine: the user retires it (docker volume rm), then the program lets go of it.
        this.keptVolumes = args.keptVolumes.map(
            (volume) => new docker.Volume(volumeResource(volume), { name: volume, labels }, { parent: this, retainOnDelete: true }),
        );

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
                command: postgresCommand(settings),
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
                labels: containerLabels,
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
        const connection = pulumi.all([adminHost, this.superuserPassword]).apply(([host, pw]) => ({
            host,
            port: adminPort,
            username: SUPERUSER,
            password: pw,
            database: SUPERUSER,
            sslmode: DEDICATED_SSL_MODE,
            connectTimeoutSeconds: DEFAULT_CONNECT_TIMEOUT_SECONDS,
            superuser: true,
            ...(args.instance !== undefined ? { serverInstance: args.instance } : {}),
        }));
        this.connection = pulumi.secret(connection);

        // Published ports arrive from the network's gateway, so the app's network is every source there is.
        const subnet = this.network.ipamConfigs.apply((configs) => {
            const found = configs?.find((c) => c.subnet && !c.subnet.includes(":"))?.subnet;
            if (!found) throw new Error(`${COMPONENT} ${name}: Docker network ${names.network} reports no IPv4 subnet`);
            return found;
        });
        this.hba = new ServerHba(
            `${name}-hba`,
            { connection: this.connection, lines: subnet.apply((net) => dedicatedHbaLines(args.app, SUPERUSER, net, args.clients)) },
            { parent: this, dependsOn: [this.container] },
        );
        this.provider = new postgresql.Provider(
            `${name}-provider`,
            {
                host: adminHost,
                port: adminPort,
                username: SUPERUSER,
                password: this.superuserPassword,
                sslmode: DEDICATED_SSL_MODE,
                database: SUPERUSER,
                superuser: true,
                connectTimeout: DEFAULT_CONNECT_TIMEOUT_SECONDS,
                maxConnections: args.provisioningConnections,
            },
            // The app's roles are created through this provider: only once the rules are in place.
            { parent: this, dependsOn: [this.container, this.hba] },
        );
        this.endpoint = {
            host: args.hostPort !== undefined ? "127.0.0.1" : this.container.name,
            port: adminPort,
            internalHost: this.container.name,
            internalPort: 5432,
            // The container network is private to the host; the image has no TLS certificate.
            sslmode: DEDICATED_SSL_MODE,
            connectTimeoutSeconds: DEFAULT_CONNECT_TIMEOUT_SECONDS,
            urlParameters: {},
        };
        this.registerOutputs({
            containerName: this.container.name,
            networkName: this.network.name,
            volumeName: this.volume.name,
            keptVolumeNames: args.keptVolumes,
            hostPort: args.hostPort,
        });
    }
}
