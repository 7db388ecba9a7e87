/**
 * Every preview and `up` looks at each dedicated server as it is on the
 * Docker engine, before anything is declared: the docker provider only looks
 * on refresh, so a stopped container, a removed one or a lost volume passed
 * as "unchanged" (and an empty volume became an empty database in silence).
 *
 * `decideDedicated` is the pure part (live state and what the last `up` left
 * -> what to do, and what to say); `dedicatedServersAsTheyAre` reads, acts
 * during `up`, logs, and gives each server the instance its container is
 * declared with (DedicatedServerArgs.instance): the live container's, or a
 * new one when the container is gone, which makes the engine create it again
 * on the same volume.
 */
import * as pulumi from "@pulumi/pulumi";
import { dedicatedLabels, INSTANCE_LABEL, PGDATA } from "../components/dedicatedServer";
import { priorResources } from "../components/priorState";
import { ResolvedApp, StackConfig } from "./config";
import { DedicatedEngineNames, DedicatedLive, engineNamesOf, forgetDedicatedLive } from "./dedicatedLive";
import { forgetDedicatedPlans, majorOf, planMessage, readDedicatedPlan, upgradeDedicated, VolumePlan } from "./dedicatedUpgrade";
import { createNetwork, createVolume, EngineUnreadable, inspectContainer, startContainer } from "./dockerEngine";
import { readPreviousOutputs } from "./lastUp";

/** What the last `up` says about one dedicated app. */
export interface DedicatedExpectation {
    /** The last `up` had this app's dedicated server: its volume holds the app's data. */
    readonly dataExpected: boolean;
    /** `apps.<app>.dedicated.acceptEmptyData`. */
    readonly acceptEmptyData: boolean;
}

export type DedicatedStep =
    /** Nothing to do. */
    | "none"
    /** The container exists but is stopped: started during `up`. */
    | "start"
    /** The container runs but is not healthy yet: `up` waits for it. */
    | "wait"
    /** The container is gone, the volume holds the data: created again on it. */
    | "recreate"
    /** The data is gone and acceptEmptyData is set: a new container on an empty volume. */
    | "recreateEmpty";

export interface DedicatedDecision {
    readonly step: DedicatedStep;
    /** Renew the instance (a new container), or keep the live container's (undefined: it has none). */
    readonly instance: { readonly renew: true } | { readonly renew: false; readonly value?: string };
    /** The volume is to be made anew, with the server's labels, before the container. */
    readonly createVolume: boolean;
    /** Refused: the preview and `up` fail with this (nothing is applied). */
    readonly problem?: string;
    /** Said (as a warning) by the preview and the `up`. */
    readonly message?: string;
}

/** How the messages name one server. */
export interface DedicatedNames {
    readonly app: string;
    readonly container: string;
    readonly volume: string;
}

const serverOf = (n: DedicatedNames) => `dedicated server of app ${n.app}`;

/** What the data directory is, as a message says it; undefined when the data is there. */
function missingData(n: DedicatedNames, live: DedicatedLive): string | undefined {
    if (!live.volumeExists) return `its data volume ${n.volume} is missing`;
    if (live.dataMajor === "none") return `its data volume ${n.volume} holds no data directory (no PG_VERSION in ${PGDATA})`;
    return undefined;
}

const wayBack = (app: string) =>
    `The way back: restore the volume from a backup and run the up again; or, to give ${app} an EMPTY server ` +
    `(its database and roles made anew, with the passwords they had), set apps.${app}.dedicated.acceptEmptyData: true for one up, then remove it.`;

/** What to do about one dedicated server, from what the engine holds and what the last `up` left. */
export function decideDedicated(n: DedicatedNames, live: DedicatedLive, expect: DedicatedExpectation): DedicatedDecision {
    const keep = {
        renew: false as const,
        ...(live.container?.labels[INSTANCE_LABEL] ? { value: live.container.labels[INSTANCE_LABEL] } : {}),
    };
    const c = live.container;
    // Nothing of it at the last up: a new server (or one the stack never finished); the engine makes it.
    if (!expect.dataExpected) {
        const accepted = expect.acceptEmptyData ? acceptedButUnused(n) : undefined;
        return { step: "none", instance: c ? keep : { renew: true }, createVolume: false, ...(accepted ? { message: accepted } : {}) };
    }
    const lost = missingData(n, live);
    if (lost) {
        if (!expect.acceptEmptyData) {
            return {
                step: "none",
                instance: keep,
                createVolume: false,
                problem: `${serverOf(n)}: ${lost}, and the last up left the app's data there. Nothing was applied. ${wayBack(n.app)}`,
            };
        }
        return {
            step: "recreateEmpty",
            instance: { renew: true },
            createVolume: !live.volumeExists,
            message:
                `${serverOf(n)}: ${lost}; acceptEmptyData is set, so ${n.app} gets an EMPTY server: ` +
                `${live.volumeExists ? "" : `the volume is made anew, `}container ${n.container} is created again on it, and the app's database and roles are made again, ` +
                `with the passwords they had (no data is restored). Remove apps.${n.app}.dedicated.acceptEmptyData after this up.`,
        };
    }
    if (live.dataMajor === undefined) {
        return {
            step: "none",
            instance: keep,
            createVolume: false,
            problem:
                `${serverOf(n)}: cannot tell whether volume ${n.volume} holds the app's data (no image on this engine could read it). ` +
                `Nothing was applied. Pull or build the server's image, then run again.`,
        };
    }
    const accepted = expect.acceptEmptyData ? acceptedButUnused(n) : undefined;
    const also = accepted ? ` ${accepted}` : "";
    if (!c) {
        return {
            step: "recreate",
            instance: { renew: true },
            createVolume: false,
            message:
                `${serverOf(n)}: container ${n.container} is missing; the up creates it again on volume ${n.volume}, ` +
                `which holds the data (PostgreSQL ${live.dataMajor}): database, roles and passwords are kept.${also}`,
        };
    }
    if (!c.running) {
        return {
            step: "start",
            instance: keep,
            createVolume: false,
            message: `${serverOf(n)}: container ${n.container} is stopped (${c.status}); the up starts it and waits until it is healthy.${also}`,
        };
    }
    if (c.health !== undefined && c.health !== "healthy") {
        return {
            step: "wait",
            instance: keep,
            createVolume: false,
            message: `${serverOf(n)}: container ${n.container} runs but is ${c.health}; the up waits until it is healthy.${also}`,
        };
    }
    return { step: "none", instance: keep, createVolume: false, ...(accepted ? { message: accepted } : {}) };
}

function acceptedButUnused(n: DedicatedNames): string {
    return `apps.${n.app}.dedicated.acceptEmptyData is set but the server's data is not missing: remove it, so that a later loss of the volume is refused again.`;
}

/** Where the stack's last `up` had an app (its `apps` output), or undefined when it had none of that name. */
export function appAtLastUp(
    previous: Readonly<Record<string, unknown>> | undefined,
    name: string,
): { readonly placement?: unknown; readonly server?: unknown; readonly database?: unknown } | undefined {
    const apps = plain(previous?.apps) as Record<string, unknown> | undefined;
    const entry = plain(apps?.[name]) as Record<string, unknown> | undefined;
    if (!entry || typeof entry !== "object") return undefined;
    return { placement: plain(entry.placement), server: plain(entry.server), database: plain(entry.database) };
}

/** Whether the stack's last `up` had `app` on its own dedicated server. */
export function dataExpectedIn(previous: Readonly<Record<string, unknown>> | undefined, app: ResolvedApp): boolean {
    const last = appAtLastUp(previous, app.name);
    return last?.placement === "dedicated" && last.server === app.server;
}

/** A value of the outputs the engine read back, a secret's envelope taken off. */
function plain(value: unknown): unknown {
    const secret = value as { [SECRET_SIG]?: string; value?: unknown } | undefined;
    return secret && typeof secret === "object" && SECRET_SIG in secret ? secret.value : value;
}
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** How long `up` waits for a started container's healthcheck: its own budget (interval 2 s x 30 retries) and more. */
export const HEALTHY_WITHIN_MS = 120_000;

/** A refusal of the dedicated servers as they are; the program shows it without a stack trace. */
export class DedicatedStateError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(`Dedicated servers as they are on the Docker engine; nothing was applied:\n  - ${problems.join("\n  - ")}`);
    }
}

/** Waits until the container is running and, when it has a healthcheck, healthy; throws naming it otherwise. */
async function untilHealthy(n: DedicatedNames, withinMs: number): Promise<number> {
    const started = Date.now();
    for (;;) {
        const c = await inspectContainer(n.container);
        if (!c) throw new Error(`${serverOf(n)}: container ${n.container} vanished while the up waited for it`);
        if (c.running && (c.health === undefined || c.health === "healthy")) return Date.now() - started;
        if (!c.running && c.status !== "restarting" && Date.now() - started > 5_000) {
            throw new Error(`${serverOf(n)}: container ${n.container} stopped again (${c.status}); see \`docker logs ${n.container}\``);
        }
        if (Date.now() - started > withinMs) {
            throw new Error(
                `${serverOf(n)}: container ${n.container} is not healthy after ${withinMs / 1000} s (${c.status}, ${c.health ?? "no healthcheck"}); ` +
                    `see \`docker logs ${n.container}\``,
            );
        }
        await new Promise((r) => setTimeout(r, 500));
    }
}

/** What `up` does about one server before anything is declared, and says so. */
async function act(
    app: ResolvedApp,
    n: DedicatedEngineNames,
    d: DedicatedDecision,
    plan: VolumePlan,
    live: DedicatedLive,
    remakeNetwork: boolean,
): Promise<void> {
    const names = { app: n.app, container: n.container, volume: live.volume };
    const labels = Object.fromEntries(dedicatedLabels(n.app, n.stack).map((l) => [l.label, l.value]));
    if (remakeNetwork) {
        const subnet = await lastSubnet(n.network);
        await createNetwork(n.network, labels, subnet);
        void pulumi.log.warn(
            `${serverOf(names)}: network ${n.network} was missing; made it again${subnet ? ` with the subnet it had (${subnet})` : ""}` +
                `${live.container ? `, and container ${n.container} is created again on it` : ""}.`,
        );
    }
    if (d.createVolume) await createVolume(live.volume, labels);
    if (d.step === "start") {
        await startContainer(n.container);
        const ms = await untilHealthy(names, HEALTHY_WITHIN_MS);
        void pulumi.log.warn(
            `${serverOf(names)}: container ${n.container} was stopped; started it, healthy after ${(ms / 1000).toFixed(1)} s.`,
        );
    } else if (d.step === "wait") {
        const ms = await untilHealthy(names, HEALTHY_WITHIN_MS);
        void pulumi.log.info(`${serverOf(names)}: container ${n.container} healthy after ${(ms / 1000).toFixed(1)} s.`);
    } else if (d.message) {
        void pulumi.log.warn(d.message);
    }
    const said = planMessage(n, plan);
    if (said) void pulumi.log.warn(said);
    if (plan.kind === "upgrade") await upgradeDedicated(n, plan, app.dedicated!.image, app.dedicated!.memoryMb);
}

/** The subnet the stack's last state gives the network (so that its pg_hba rules hold), when it says. */
async function lastSubnet(network: string): Promise<string | undefined> {
    const found = (await priorResources().catch(() => [])).find(
        (r) => r.type === "docker:index/network:Network" && r.outputs.name === network,
    );
    const configs = found?.outputs.ipamConfigs as { subnet?: string; gateway?: string }[] | undefined;
    return configs?.find((c) => c.subnet && !c.subnet.includes(":"))?.subnet;
}

/** Where each dedicated app's server runs, as the stack declares it. */
export interface DedicatedPlacement {
    /** The container's instance label (DedicatedServerArgs.instance). */
    readonly instance?: string;
    /** The data volume it runs on. */
    readonly volume: string;
    /** The app's other data volumes, kept. */
    readonly keptVolumes: readonly string[];
}

/**
 * Reads every dedicated server of the stack, refuses (DedicatedStateError)
 * what cannot go on, and during `up` starts a stopped container (waiting for
 * it to be healthy), makes a lost volume anew when that is accepted, makes a
 * missing network again, and carries the data of a major-version upgrade.
 * Says what it finds and does. Resolves to where each app's server runs.
 */
export async function dedicatedServersAsTheyAre(
    config: StackConfig,
    stack: string = pulumi.getStack(),
    previousOutputs: () => Promise<Readonly<Record<string, unknown>> | undefined> = readPreviousOutputs,
    dryRun: boolean = pulumi.runtime.isDryRun(),
): Promise<Record<string, DedicatedPlacement>> {
    const apps = Object.values(config.apps).filter((a) => a.dedicated);
    if (apps.length === 0) return {};
    const lives = await Promise.all(
        apps.map(async (app) => {
            const names = engineNamesOf(app.name, stack);
            try {
                const { live, plan } = await readDedicatedPlan(names, app.dedicated!.image, majorOf(app.dedicated!.version));
                return { app, names, live, plan };
            } catch (err) {
                const problem = `${serverOf(names)}: cannot look at it on the Docker engine: ${(err as Error).message}`;
                return {
                    app,
                    names,
                    error: err instanceof EngineUnreadable ? undefined : problem,
                    unreadable: err as Error,
                    live: undefined,
                    plan: undefined,
                };
            }
        }),
    );
    // The last up's outputs are read only when a server is not as it was left (a cost of the engine's).
    const healthy = (l: DedicatedLive) =>
        l.container?.running && (l.container.health ?? "healthy") === "healthy" && l.volumeExists && l.networkExists;
    const previous = lives.some((l) => l.live && !healthy(l.live)) ? await previousOutputs() : undefined;
    const problems: string[] = [];
    const placements: Record<string, DedicatedPlacement> = {};
    const todo: {
        app: ResolvedApp;
        names: DedicatedEngineNames;
        live: DedicatedLive;
        decision: DedicatedDecision;
        plan: VolumePlan;
        remakeNetwork: boolean;
    }[] = [];
    const renewed = new Date().toISOString();
    for (const l of lives) {
        if (!l.live || !l.plan) {
            if (l.error) problems.push(l.error);
            else if (l.unreadable) placements[l.app.name] = await placementAtLastUp(l.names, l.unreadable);
            continue;
        }
        const { live, plan } = l;
        const expect = { dataExpected: dataExpectedIn(previous, l.app), acceptEmptyData: l.app.dedicated!.acceptEmptyData };
        const decision = decideDedicated({ app: l.app.name, container: l.names.container, volume: live.volume }, live, expect);
        if (decision.problem) problems.push(decision.problem);
        if (plan.kind === "refused") problems.push(`${serverOf(l.names)}: ${plan.problem}`);
        else if (plan.kind === "upgrade" && !live.container) {
            problems.push(
                `${serverOf(l.names)}: container ${l.names.container} is missing, and the upgrade to PostgreSQL ${plan.toMajor} copies from the running server. ` +
                    `Nothing was applied; run the up with apps.${l.app.name}.dedicated.version "${plan.fromMajor}" first (it makes the container again), then change the version`,
            );
        }
        if (plan.kind === "refused") continue;
        // A new container: for an upgrade or a rollback (another volume and image), or a network made again.
        // A network that went from under a server the stack has (a new server's is made by the engine).
        const remakeNetwork = !live.networkExists && (live.container !== undefined || expect.dataExpected);
        const renew = decision.instance.renew || plan.kind !== "serve" || (remakeNetwork && live.container !== undefined);
        placements[l.app.name] = {
            ...(renew
                ? { instance: renewed }
                : !decision.instance.renew && decision.instance.value
                  ? { instance: decision.instance.value }
                  : {}),
            volume: plan.kind === "serve" ? plan.volume : plan.to,
            keptVolumes: plan.kept,
        };
        todo.push({ app: l.app, names: l.names, live, decision, plan, remakeNetwork });
    }
    if (problems.length > 0) throw new DedicatedStateError(problems);

    for (const { app, names, live, decision, plan, remakeNetwork } of todo) {
        if (dryRun) {
            if (decision.message) void pulumi.log.warn(decision.message);
            if (remakeNetwork) {
                void pulumi.log.warn(`${serverOf(names)}: network ${names.network} is missing; the up makes it again.`);
            }
            const said = planMessage(names, plan);
            if (said) void pulumi.log.warn(said);
            continue;
        }
        try {
            await act(app, names, decision, plan, live, remakeNetwork);
        } catch (err) {
            const message = (err as Error).message;
            throw new DedicatedStateError([message.startsWith(serverOf(names)) ? message : `${serverOf(names)}: ${message}`]);
        }
    }
    if (!dryRun) {
        forgetDedicatedLive();
        forgetDedicatedPlans();
    }
    return placements;
}

/**
 * Where a server the program cannot look at ran at the last up (its container's
 * instance label and volumes, from the state), so that nothing is replaced
 * for not being seen; said as a warning.
 */
async function placementAtLastUp(n: DedicatedEngineNames, why: Error): Promise<DedicatedPlacement> {
    void pulumi.log.warn(`${serverOf(n)}: not checked on the Docker engine (${why.message}); declared as the last up left it.`);
    const resources = await priorResources().catch(() => []);
    const container = resources.find((r) => r.type === "docker:index/container:Container" && r.outputs.name === n.container)?.outputs;
    const labels = (container?.labels ?? []) as { label?: string; value?: string }[];
    const mounts = (container?.volumes ?? []) as { volumeName?: string }[];
    const instance = labels.find((l) => l.label === INSTANCE_LABEL)?.value;
    const volume = mounts.find((m) => m.volumeName)?.volumeName ?? n.volume;
    const kept = resources
        .filter((r) => r.type === "docker:index/volume:Volume" && typeof r.outputs.name === "string" && r.outputs.name !== volume)
        .map((r) => r.outputs.name as string)
        .filter((v) => v === n.volume || new RegExp(`^${n.volume}-\\d+$`).test(v));
    return { ...(instance ? { instance } : {}), volume, keptVolumes: kept };
}
