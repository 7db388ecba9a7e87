/**
 * A dedicated server as it is on the Docker engine right now: its container
 * (present, running, healthy), its network, the data volumes of the app (the
 * one it serves from and those an upgrade kept), and the major of the data
 * directory the serving volume holds. Read by the program on every preview
 * and `up`, before anything is declared, because the docker provider only
 * looks on refresh; read once per app and program run (the preflight and the
 * program's own look share it).
 */
import { dedicatedLabels, dedicatedNames, PGDATA, UPGRADE_MARKER, volumeForMajor } from "../components/dedicatedServer";
import {
    ContainerFacts,
    execInContainer,
    imagePresent,
    inspectContainer,
    inspectVolume,
    networkExists,
    readVolume,
    volumesLabelled,
} from "./dockerEngine";

export interface DedicatedLive {
    /** undefined: no container of that name. */
    readonly container?: ContainerFacts;
    /** The volume the server serves from: the live container's, else the one for the configured major. */
    readonly volume: string;
    readonly volumeExists: boolean;
    /**
     * The serving data directory's major (its PG_VERSION file, e.g. "15");
     * "none" when the volume holds no data directory (new or emptied);
     * undefined when no volume, or nothing on the engine could read it.
     */
    readonly dataMajor?: string;
    /** Every data volume of the app and stack on the engine (labels and name), the serving one included. */
    readonly volumes: readonly string[];
    readonly networkExists: boolean;
}

/** What one data volume holds: the major of its data directory ("none": none), and an unfinished upgrade's marker. */
export interface VolumeContents {
    readonly dataMajor?: string;
    readonly upgradeUnfinished: boolean;
}

/** The names a dedicated server's parts have on the engine. */
export interface DedicatedEngineNames {
    readonly app: string;
    readonly stack: string;
    readonly container: string;
    readonly network: string;
    /** The volume a server of a new app gets (`...-data`). */
    readonly volume: string;
}

/** The engine names of one app's dedicated server. */
export const engineNamesOf = (app: string, stack: string): DedicatedEngineNames => ({ app, stack, ...dedicatedNames(app, stack) });

const PG_VERSION_CMD = ["sh", "-c", `cat ${PGDATA}/PG_VERSION 2>/dev/null || echo none`];
const CONTENTS_CMD = [
    "sh",
    "-c",
    `cat ${PGDATA}/PG_VERSION 2>/dev/null || echo none; test -e ${PGDATA}/${UPGRADE_MARKER} && echo unfinished; true`,
];

const parseMajor = (output: string): string | undefined => {
    const line = output.trim().split(/\r?\n/)[0]?.trim();
    return line && /^(\d+(\.\d+)?|none)$/.test(line) ? line : undefined;
};

/** Every data volume name of this server: the first one, or one an upgrade made (`...-data-<major>`). */
const isDataVolume = (n: DedicatedEngineNames, name: string) => name === n.volume || new RegExp(`^${n.volume}-\\d+$`).test(name);

/** Reads what a volume no container runs on holds, in a throwaway container of the first image on the engine. */
export async function readVolumeContents(volume: string, images: readonly string[]): Promise<VolumeContents | undefined> {
    for (const image of images) {
        if (!(await imagePresent(image))) continue;
        const read = await readVolume(image, volume, PGDATA, CONTENTS_CMD);
        if (read.exitCode !== 0) return undefined;
        const dataMajor = parseMajor(read.output);
        return { ...(dataMajor ? { dataMajor } : {}), upgradeUnfinished: /\bunfinished\b/.test(read.output) };
    }
    return undefined;
}

/**
 * Reads one dedicated server: container, network and volumes by their names
 * and labels; the data directory's major from the running container, else
 * from a throwaway container on the volume (the container's image, else
 * `image` when it is on the engine). `major` is the configured major: without
 * a container, the server serves from the volume an upgrade to it made, if
 * there is one.
 */
export async function readDedicatedLiveNow(n: DedicatedEngineNames, image: string, major: string): Promise<DedicatedLive> {
    const labels = Object.fromEntries(dedicatedLabels(n.app, n.stack).map((l) => [l.label, l.value]));
    const [container, labelled, network] = await Promise.all([
        inspectContainer(n.container),
        volumesLabelled(labels),
        networkExists(n.network),
    ]);
    const volumes = labelled.filter((v) => isDataVolume(n, v));
    const mounted = container?.volumes[PGDATA];
    const upgraded = volumeForMajor(n.volume, major);
    const volume = mounted ?? (volumes.includes(upgraded) ? upgraded : n.volume);
    // A volume made by hand (or before labels) is found by its name.
    const volumeExists = volumes.includes(volume) || (await inspectVolume(volume)) !== undefined;
    const base = { ...(container ? { container } : {}), volume, volumes, networkExists: network };
    if (!volumeExists) return { ...base, volumeExists: false };
    let dataMajor: string | undefined;
    if (container?.running && mounted === volume) {
        const read = await execInContainer(n.container, PG_VERSION_CMD);
        dataMajor = read.exitCode === 0 ? parseMajor(read.output) : undefined;
    }
    if (dataMajor === undefined) {
        dataMajor = (await readVolumeContents(volume, container ? [container.image, image] : [image]))?.dataMajor;
    }
    return { ...base, volumeExists: true, ...(dataMajor !== undefined ? { dataMajor } : {}) };
}

const reads = new Map<string, Promise<DedicatedLive>>();

/** readDedicatedLiveNow, once per server and program run (the preflight and the state read share it). */
export function readDedicatedLive(n: DedicatedEngineNames, image: string, major: string): Promise<DedicatedLive> {
    const key = `${n.container}\0${image}\0${major}`;
    let read = reads.get(key);
    if (!read) {
        read = readDedicatedLiveNow(n, image, major);
        reads.set(key, read);
        // A failed read is not kept: the next caller asks again.
        read.catch(() => reads.delete(key));
    }
    return read;
}

/** Forgets what was read (after the program changed the engine). */
export function forgetDedicatedLive(): void {
    reads.clear();
}
