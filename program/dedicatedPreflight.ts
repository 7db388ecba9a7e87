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
import { computeBudget } from "../components/connectionBudget";
import { dedicatedNames, PGDATA, postgresCommand, tuningSettings } from "../components/dedicatedServer";
import { ResolvedApp, StackConfig } from "./config";
import { DedicatedLive, readDedicatedLive } from "./dedicatedLive";
import { engineRequest, publishedHostPorts, readVolume } from "./dockerEngine";
import { budgetArgs } from "./stack";

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
}

/** The majors scripts/postgres-image.sh builds. */
const BUILDABLE_MAJORS = ["14", "15", "16", "17", "18"];
const LOCAL_IMAGE = /^app-databases\/postgres:(\d+)$/;

/** A version's major: "17" of "17" or "17.2". */
export const majorOf = (version: string): string => version.split(".")[0];

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
    const dataMajor = live.dataMajor;
    const major = facts.imageMajor ?? majorOf(spec.version);
    if (recreated && dataMajor !== undefined && dataMajor !== "none" && dataMajor !== major) {
        problems.push(majorChangeProblem(app, names.volume, dataMajor, major, live.container !== undefined));
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

/** The refusal of a major-version change on a data directory that has data. */
function majorChangeProblem(app: ResolvedApp, volume: string, dataMajor: string, major: string, running: boolean): string {
    const spec = app.dedicated!;
    const at = `apps.${app.name}.dedicated`;
    // A custom image without {version} may run another major than the version says.
    const byVersion = major === majorOf(spec.version);
    const what = byVersion ? `${at}.version is "${spec.version}"` : `${at}.image ${spec.image} is PostgreSQL ${major}`;
    const keep = byVersion ? `Keep ${at}.version "${dataMajor}"` : `Keep an image of PostgreSQL ${dataMajor}`;
    const change = Number(major) > Number(dataMajor) ? "upgrade" : "downgrade";
    const way =
        change === "upgrade"
            ? `to upgrade, dump and restore (README: "Changing a dedicated server's major version")`
            : `a downgrade can never reuse a data directory (PostgreSQL ${major} cannot read what ${dataMajor} wrote): dump and restore into a new server (README: "Changing a dedicated server's major version")`;
    return (
        `${what} but the server's data directory (volume ${volume}) is PostgreSQL ${dataMajor}: ` +
        `changing the image would start a server that refuses that data directory, and the app would be down. ` +
        `${keep}${running ? " (the running container is left as it is)" : ""}; ${way}`
    );
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
    const names = dedicatedNames(app.name, stack);
    const [live, image] = await Promise.all([readDedicatedLive(names, spec.image), inspectImage(spec.image)]);
    const holder = spec.hostPort === undefined ? undefined : await portHolder(spec.hostPort, live, published);
    // A replacement on data the new image reads; a new server has no running container to lose.
    const replacedOnSameMajor =
        live.container !== undefined &&
        image.present &&
        needsImage(app, live, command) &&
        live.dataMajor === (image.major ?? majorOf(spec.version));
    const refused = replacedOnSameMajor ? await settingsRefusal(spec.image, names.volume, command) : undefined;
    return {
        live,
        imagePresent: image.present,
        ...(image.major ? { imageMajor: image.major } : {}),
        ...(holder ? { portHolder: holder } : {}),
        ...(refused !== undefined ? { settingsRefused: refused } : {}),
    };
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
export async function dedicatedPreflight(config: StackConfig, stack: string): Promise<string[]> {
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
                return [`apps.${app.name}.dedicated: cannot check the server on the Docker engine: ${(err as Error).message}`];
            }
        });
    return (await Promise.all(checks)).flat();
}
