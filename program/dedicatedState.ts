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
import { dedicatedLabels, dedicatedNames, INSTANCE_LABEL, PGDATA } from "../components/dedicatedServer";
import { ResolvedApp, StackConfig } from "./config";
import { DedicatedLive, readDedicatedLive } from "./dedicatedLive";
import { createVolume, inspectContainer, startContainer } from "./dockerEngine";
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
async function act(app: ResolvedApp, names: DedicatedNames, d: DedicatedDecision, stack: string): Promise<void> {
    if (d.createVolume) {
        const labels = Object.fromEntries(dedicatedLabels(app.name, stack).map((l) => [l.label, l.value]));
        await createVolume(names.volume, labels);
    }
    if (d.step === "start") {
        await startContainer(names.container);
        const ms = await untilHealthy(names, HEALTHY_WITHIN_MS);
        void pulumi.log.warn(
            `${serverOf(names)}: container ${names.container} was stopped; started it, healthy after ${(ms / 1000).toFixed(1)} s.`,
        );
    } else if (d.step === "wait") {
        const ms = await untilHealthy(names, HEALTHY_WITHIN_MS);
        void pulumi.log.info(`${serverOf(names)}: container ${names.container} healthy after ${(ms / 1000).toFixed(1)} s.`);
    } else if (d.message) {
        void pulumi.log.warn(d.message);
    }
}

/**
 * Reads every dedicated server of the stack, refuses (DedicatedStateError)
 * what cannot go on, and during `up` starts a stopped container (waiting for
 * it to be healthy) and makes a lost volume anew when that is accepted. Says
 * what it finds and does. Resolves to each app's container instance.
 */
export async function dedicatedServersAsTheyAre(
    config: StackConfig,
    stack: string = pulumi.getStack(),
    previousOutputs: () => Promise<Readonly<Record<string, unknown>> | undefined> = readPreviousOutputs,
    dryRun: boolean = pulumi.runtime.isDryRun(),
): Promise<Record<string, string | undefined>> {
    const apps = Object.values(config.apps).filter((a) => a.dedicated);
    if (apps.length === 0) return {};
    const lives = await Promise.all(
        apps.map(async (app) => {
            const names = { app: app.name, ...dedicatedNames(app.name, stack) };
            try {
                return { app, names, live: await readDedicatedLive(names, app.dedicated!.image) };
            } catch (err) {
                return { app, names, error: `${serverOf(names)}: cannot look at it on the Docker engine: ${(err as Error).message}` };
            }
        }),
    );
    // The last up's outputs are read only when a server is not as it was left (a cost of the engine's).
    const healthy = (l: DedicatedLive) => l.container?.running && (l.container.health ?? "healthy") === "healthy" && l.volumeExists;
    const previous = lives.some((l) => l.live && !healthy(l.live)) ? await previousOutputs() : undefined;
    const problems: string[] = [];
    const decided = lives.map((l) => {
        if (!l.live) {
            problems.push(l.error);
            return { ...l, decision: undefined };
        }
        const expect = { dataExpected: dataExpectedIn(previous, l.app), acceptEmptyData: l.app.dedicated!.acceptEmptyData };
        const decision = decideDedicated(l.names, l.live, expect);
        if (decision.problem) problems.push(decision.problem);
        return { ...l, decision };
    });
    if (problems.length > 0) throw new DedicatedStateError(problems);

    const instances: Record<string, string | undefined> = {};
    const renewed = new Date().toISOString();
    for (const { app, names, decision } of decided) {
        const d = decision!;
        instances[app.name] = d.instance.renew ? renewed : d.instance.value;
        if (d.message && dryRun) void pulumi.log.warn(d.message);
        if (dryRun) continue;
        try {
            await act(app, names, d, stack);
        } catch (err) {
            const message = (err as Error).message;
            throw new DedicatedStateError([message.startsWith(serverOf(names)) ? message : `${serverOf(names)}: ${message}`]);
        }
    }
    return instances;
}
