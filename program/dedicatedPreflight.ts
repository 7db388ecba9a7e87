/**
 * Preflight of dedicated servers: before anything is declared, look at each
 * dedicated app's container, volume, image and host port on the Docker
 * engine, and refuse what `up` would trip on half-way (after removing the
 * running container, or after creating the network and volume): an image
 * not on the engine, a host port someone else holds, a data directory of
 * another major than the image the container would be recreated from,
 * settings PostgreSQL refuses on a container that would be replaced.
 * Nothing on the engine is changed (throwaway containers read the volume).
 */
import * as net from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { computeBudget } from "../components/connectionBudget";
import { dedicatedNames, PGDATA, postgresCommand, tuningSettings } from "../components/dedicatedServer";
import { ResolvedApp, StackConfig } from "./config";
import {
    clientToolsOrProblem,
    diskProblem,
    extensionsProblem,
    majorOf,
    readDedicatedPlan,
    readUpgradeSource,
    VolumePlan,
} from "./dedicatedUpgrade";
import { DedicatedLive, engineNamesOf } from "./dedicatedLive";
import { EngineUnreadable, engineRequest, publishedHostPorts, readVolume, runOnce, trialStart } from "./dockerEngine";
import { budgetArgs } from "./stack";

export { majorOf } from "./dedicatedUpgrade";

/** What holds a host port a dedicated app wants; undefined when it is free or the app's own container publishes it. */
export type PortHolder = { readonly container: string } | { readonly process: true };

/** What the engine says about one dedicated app, as the checks need it. */
export interface DedicatedFacts {
    readonly live: DedicatedLive;
    /** Whether the configured image is on the engine. */
    readonly imagePresent: boolean;
    /** The configured image's PG_MAJOR, when it is on the engine and says. */
    readonly imageMajor?: string;
    readonly portHolder?: PortHolder;
    /**
     * When the container would be replaced on data of the new image's major:
     * PostgreSQL's refusal of the new command's settings (undefined: accepted,
     * or not checked).
     */
    readonly settingsRefused?: string;
    /**
     * When the container would be replaced on the same data: what PostgreSQL
     * said when the new image, command and memory limit were started on an
     * empty data directory, and failed (undefined: it started, or not tried).
     */
    readonly startRefused?: string;
    /** Where the data goes (an upgrade, a rollback, a refusal). */
    readonly plan: VolumePlan;
    /** What stops a planned upgrade before it starts: disk, extensions, client tools. */
    readonly upgradeProblems?: readonly string[];
}

/** The majors scripts/postgres-image.sh builds. */
const BUILDABLE_MAJORS = ["14", "15", "16", "17", "18"];
const LOCAL_IMAGE = /^app-databases\/postgres:(\d+)$/;

/** How to get an image onto the engine: the offline build for the local recipe, else a pull (or the offline build instead). */
export function imageRemedy(image: string, major: string): string {
    const local = LOCAL_IMAGE.exec(image)?.[1];
    if (local && BUILDABLE_MAJORS.includes(local))
        return `build it offline: APP_DATABASES_PG_MAJOR=${local} bash scripts/postgres-image.sh`;
    const offline = BUILDABLE_MAJORS.includes(major)
        ? `; with no registry reachable, build app-databases/postgres:${major} offline (APP_DATABASES_PG_MAJOR=${major} bash scripts/postgres-image.sh) and set image: "app-databases/postgres:{version}"`
        : "";
    return `pull it first: docker pull ${image}${offline}`;
}

/**
 * Whether `up` would create the container from the configured image: a new
 * server, or one whose image, command (settings, memory, max_connections) or
 * published port changes, each of which replaces the container.
 */
export function needsImage(app: ResolvedApp, live: DedicatedLive, command: readonly string[]): boolean {
    const spec = app.dedicated!;
    const c = live.container;
    if (!c || c.image !== spec.image || c.cmd.join("\0") !== command.join("\0")) return true;
    return spec.hostPort === undefined ? c.hostPorts.length > 0 : !c.hostPorts.includes(spec.hostPort);
}

/** Every problem of one dedicated app, given what the engine says and its container's planned `command`; pure. */
export function dedicatedProblems(app: ResolvedApp, stack: string, facts: DedicatedFacts, command: readonly string[]): string[] {
    const spec = app.dedicated!;
    const names = dedicatedNames(app.name, stack);
    const at = `apps.${app.name}.dedicated`;
    const { live } = facts;
    const problems: string[] = [];
    const recreated = needsImage(app, live, command);
    const removes = `up would remove the running container ${names.container}`;
    if (recreated && !facts.imagePresent) {
        const why = live.container
            ? `${removes} (image ${live.container.image}) and then find no image to start its replacement from`
            : `up would create the network and volume and then find no image to start the container from`;
        problems.push(
            `${at}.image is ${spec.image} (version "${spec.version}"), which is not on the Docker engine: ${why}. ` +
                `${capitalize(imageRemedy(spec.image, majorOf(spec.version)))}`,
        );
    }
    const major = facts.imageMajor ?? majorOf(spec.version);
    if (facts.plan.kind === "refused") problems.push(facts.plan.problem);
    // A custom image without {version} may run another major than the version says, and the data goes by the version.
    if (recreated && facts.imageMajor !== undefined && facts.imageMajor !== majorOf(spec.version)) {
        problems.push(
            `${at}.image ${spec.image} is PostgreSQL ${facts.imageMajor} but ${at}.version is "${spec.version}": ` +
                `set ${at}.version to "${facts.imageMajor}", or use an image of PostgreSQL ${majorOf(spec.version)}${live.container ? " (the running container is left as it is)" : ""}`,
        );
    }
    problems.push(...(facts.upgradeProblems ?? []));
    if (facts.startRefused !== undefined) {
        problems.push(
            `${at}: PostgreSQL ${major} does not start with the new settings and memory limit (${facts.startRefused}), tried on an empty data directory ` +
                `in a throwaway container: ${removes} and its replacement would not start. Fix ${at}.settings or ${at}.memoryMb ` +
                `(the running container is left as it is)`,
        );
    }
    if (facts.settingsRefused !== undefined) {
        problems.push(
            `${at}.settings are refused by PostgreSQL ${major} (${facts.settingsRefused}): ${removes} and its replacement would not start. ` +
                `Fix ${at}.settings or the stack's dedicated.settings (the running container is left as it is)`,
        );
    }
    if (spec.hostPort !== undefined && facts.portHolder) {
        const holder = "container" in facts.portHolder ? `container ${facts.portHolder.container}` : "another process on this host";
        const then = live.container ? `${removes} and then fail` : "up would create the network and volume and then fail";
        problems.push(
            `${at}.hostPort ${spec.hostPort} on 127.0.0.1 is held by ${holder}: ${then} to publish it. ` +
                `Set ${at}.hostPort to a free port, or stop what holds it`,
        );
    }
    return problems;
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Whether something listens on 127.0.0.1:port already (binding it fails with EADDRINUSE). */
export function portInUse(port: number, host = "127.0.0.1"): Promise<boolean> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", (err: NodeJS.ErrnoException) => {
            if (err.code === "EADDRINUSE") resolve(true);
            // EACCES and friends: Docker could not bind it either, but that is not ours to explain.
            else reject(err);
        });
        server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(false)));
    });
}

/** Whether the image is on the engine, and the PG_MAJOR its environment sets. */
async function inspectImage(image: string): Promise<{ present: boolean; major?: string }> {
    const reply = await engineRequest("GET", `/images/${encodeURIComponent(image)}/json`);
    if (reply.status === 404) return { present: false };
    if (reply.status !== 200) throw new Error(`Docker engine: inspecting image ${image} answered ${reply.status}: ${reply.body.trim()}`);
    const env = (JSON.parse(reply.body) as { Config?: { Env?: string[] | null } }).Config?.Env ?? [];
    const major = env.find((e) => e.startsWith("PG_MAJOR="))?.slice("PG_MAJOR=".length);
    return { present: true, ...(major && /^\d+$/.test(major) ? { major } : {}) };
}

/** Who holds a host port the app's own container does not publish. */
async function portHolder(
    port: number,
    live: DedicatedLive,
    published: () => Promise<ReadonlyMap<number, string>>,
): Promise<PortHolder | undefined> {
    if (live.container?.hostPorts.includes(port)) return undefined;
    const container = (await published()).get(port);
    if (container !== undefined) return { container };
    return (await portInUse(port)) ? { process: true } : undefined;
}

/**
 * What PostgreSQL says of `command`'s settings on the volume's data directory:
 * `postgres -C` reads the configuration with them and exits (beside a running
 * server too); undefined when it accepts them, else its FATAL message.
 */
async function settingsRefusal(image: string, volume: string, command: readonly string[]): Promise<string | undefined> {
    const [server, ...args] = command;
    const read = await readVolume(image, volume, PGDATA, [server, "-D", PGDATA, "-C", "max_connections", ...args], "postgres");
    if (read.exitCode === 0) return undefined;
    const lines = read.output.split(/\r?\n/).map((l) => l.trim());
    const fatal = lines.find((l) => l.includes("FATAL:"));
    return fatal ? fatal.replace(/^.*FATAL:\s*/, "") : lines.filter(Boolean).pop() || `postgres -C exited ${read.exitCode}`;
}

/** Reads what the checks need of one dedicated app whose container is planned to run `command`. */
export async function readDedicatedFacts(
    app: ResolvedApp,
    stack: string,
    published: () => Promise<ReadonlyMap<number, string>>,
    command: readonly string[],
): Promise<DedicatedFacts> {
    const spec = app.dedicated!;
    const names = engineNamesOf(app.name, stack);
    const [{ live, plan }, image] = await Promise.all([
        readDedicatedPlan(names, spec.image, majorOf(spec.version)),
        inspectImage(spec.image),
    ]);
    const holder = spec.hostPort === undefined ? undefined : await portHolder(spec.hostPort, live, published);
    // A replacement on data the new image reads; a new server has no running container to lose.
    const replacedOnSameMajor =
        live.container !== undefined &&
        image.present &&
        plan.kind === "serve" &&
        needsImage(app, live, command) &&
        live.dataMajor === (image.major ?? majorOf(spec.version));
    const refused = replacedOnSameMajor ? await settingsRefusal(spec.image, live.volume, command) : undefined;
    // What -C accepts may still fail at start (a library that is not there, memory): start it once on empty data.
    const startRefused = replacedOnSameMajor && refused === undefined ? await trialStart(spec.image, command, spec.memoryMb) : undefined;
    const upgradeProblems = plan.kind === "upgrade" && image.present ? await upgradeChecks(app, live, names.network) : [];
    return {
        live,
        plan,
        imagePresent: image.present,
        ...(image.major ? { imageMajor: image.major } : {}),
        ...(holder ? { portHolder: holder } : {}),
        ...(refused !== undefined ? { settingsRefused: refused } : {}),
        ...(startRefused !== undefined ? { startRefused } : {}),
        ...(upgradeProblems.length > 0 ? { upgradeProblems } : {}),
    };
}

/** What would stop an upgrade half-way, read before anything is copied: the client tools, the disk, the extensions. */
async function upgradeChecks(app: ResolvedApp, live: DedicatedLive, network: string): Promise<string[]> {
    const problems: string[] = [];
    const tools = clientToolsOrProblem(app.name);
    if ("problem" in tools) problems.push(tools.problem);
    // A stopped container is started by the up first; its disk and extensions are read then.
    if (!live.container?.running) return problems;
    const source = await readUpgradeSource(live.container, network);
    const disk = diskProblem(app.name, source.dataBytes, source.freeBytes, live.volume);
    if (disk) problems.push(disk);
    const used = Object.values(source.databases).flat();
    if (used.length > 0) {
        const available = await imageExtensions(app.dedicated!.image);
        const missing = extensionsProblem(app.name, app.dedicated!.image, source.databases, available);
        if (missing) problems.push(missing);
    }
    return problems;
}

/** The extensions an image's server can create: the .control files beside its own `postgres`'s share directory. */
async function imageExtensions(image: string): Promise<string[]> {
    const script =
        'bin=$(dirname "$(command -v postgres)"); ' +
        'for d in "$bin/../share/postgresql/extension" "$bin/../share/extension" "/usr/share/postgresql/$PG_MAJOR/extension"; do ' +
        '[ -d "$d" ] && ls "$d" && break; done';
    const read = await runOnce(image, ["sh", "-c", script]);
    return read.output
        .split(/\s+/)
        .filter((f) => f.endsWith(".control"))
        .map((f) => f.slice(0, -".control".length));
}

/** The command each dedicated app's container is declared with (max_connections as its budget sizes it), by app. */
export function plannedCommands(config: StackConfig): Record<string, string[]> {
    const sizes = Object.fromEntries(budgetArgs(config).map((a) => [a.server, computeBudget(a).maxConnections]));
    const commands: Record<string, string[]> = {};
    for (const app of Object.values(config.apps)) {
        if (!app.dedicated) continue;
        commands[app.name] = postgresCommand(tuningSettings(app.dedicated.memoryMb, sizes[app.server], app.dedicated.settings));
    }
    return commands;
}

/**
 * Checks every dedicated app of the stack on the engine; resolves to every
 * problem found, each naming the app's config path and the way out (empty when
 * all is well, and without a request when the stack has no dedicated app).
 */
export async function dedicatedPreflight(
    config: StackConfig,
    stack: string,
    warn: (message: string) => void = (m) => void pulumi.log.warn(m),
): Promise<string[]> {
    let published: Promise<ReadonlyMap<number, string>> | undefined;
    const once = () => (published ??= publishedHostPorts());
    const commands = plannedCommands(config);
    const checks = Object.values(config.apps)
        .filter((app) => app.dedicated)
        .map(async (app) => {
            try {
                const command = commands[app.name];
                return dedicatedProblems(app, stack, await readDedicatedFacts(app, stack, once, command), command);
            } catch (err) {
                if (err instanceof EngineUnreadable) {
                    warn(
                        `apps.${app.name}.dedicated: not checked before the up (${err.message}); the docker provider still reaches the engine`,
                    );
                    return [];
                }
                return [`apps.${app.name}.dedicated: cannot check the server on the Docker engine: ${(err as Error).message}`];
            }
        });
    return (await Promise.all(checks)).flat();
}
