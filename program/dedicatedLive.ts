/**
 * A dedicated server as it is on the Docker engine right now: its container
 * (present, running, healthy), its volume, and the major of the data
 * directory the volume holds. Read by the program on every preview and `up`,
 * before anything is declared, because the docker provider only looks on
 * refresh.
 */
import { PGDATA } from "../components/dedicatedServer";
import { ContainerFacts, execInContainer, imagePresent, inspectContainer, inspectVolume, readVolume } from "./dockerEngine";

export interface DedicatedLive {
    /** undefined: no container of that name. */
    readonly container?: ContainerFacts;
    readonly volumeExists: boolean;
    /**
     * The data directory's major (its PG_VERSION file, e.g. "15"); "none" when
     * the volume holds no data directory (new or emptied); undefined when no
     * volume, or nothing on the engine could read it.
     */
    readonly dataMajor?: string;
}

const PG_VERSION_CMD = ["sh", "-c", `cat ${PGDATA}/PG_VERSION 2>/dev/null || echo none`];

const parseMajor = (output: string): string | undefined => {
    const line = output.trim().split(/\r?\n/)[0]?.trim();
    return line && /^(\d+(\.\d+)?|none)$/.test(line) ? line : undefined;
};

/**
 * Reads one dedicated server: container and volume by their names; the data
 * directory's major from the running container, else from a throwaway
 * container on the volume (the container's image, else `image` when it is on
 * the engine).
 */
export async function readDedicatedLive(
    names: { readonly container: string; readonly volume: string },
    image: string,
): Promise<DedicatedLive> {
    const [container, volume] = await Promise.all([inspectContainer(names.container), inspectVolume(names.volume)]);
    if (!volume) return { ...(container ? { container } : {}), volumeExists: false };
    let dataMajor: string | undefined;
    if (container?.running) {
        const read = await execInContainer(names.container, PG_VERSION_CMD);
        dataMajor = read.exitCode === 0 ? parseMajor(read.output) : undefined;
    }
    if (dataMajor === undefined) {
        const reader =
            container && (await imagePresent(container.image)) ? container.image : (await imagePresent(image)) ? image : undefined;
        if (reader) {
            const read = await readVolume(reader, names.volume, PGDATA, PG_VERSION_CMD);
            dataMajor = read.exitCode === 0 ? parseMajor(read.output) : undefined;
        }
    }
    return { ...(container ? { container } : {}), volumeExists: true, ...(dataMajor !== undefined ? { dataMajor } : {}) };
}
