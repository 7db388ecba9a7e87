/**
 * What the program does about a dedicated server as the engine holds it
 * (decideDedicated), and how it knows the last up left data there. The
 * engine's side runs for real in test/e2e/dedicatedFaults.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { ResolvedApp } from "../../program/config";
import type { DedicatedLive } from "../../program/dedicatedLive";
import { dataExpectedIn, decideDedicated, DedicatedStateError } from "../../program/dedicatedState";
import type { ContainerFacts } from "../../program/dockerEngine";

const names = { app: "alpha", container: "app-databases-dev-alpha-db", volume: "app-databases-dev-alpha-data" };

const container = (over: Partial<ContainerFacts> = {}): ContainerFacts => ({
    id: "c0ffee",
    name: names.container,
    image: "postgres:15",
    cmd: [],
    status: "running",
    running: true,
    health: "healthy",
    restartCount: 0,
    labels: { "app-databases.app": "alpha", "app-databases.instance": "2026-12-01T00:00:00.000Z" },
    volumes: { "/var/lib/postgresql/data": names.volume },
    hostPorts: [56001],
    env: [],
    addresses: {},
    ...over,
});

const live = (over: Partial<DedicatedLive> = {}): DedicatedLive => ({
    container: container(),
    volume: names.volume,
    volumes: [names.volume],
    networkExists: true,
    volumeExists: true,
    dataMajor: "15",
    ...over,
});
const expected = { dataExpected: true, acceptEmptyData: false };
const KEPT = { renew: false, value: "2026-12-01T00:00:00.000Z" };

describe("decideDedicated", () => {
    it.each<[string, DedicatedLive, string, object]>([
        ["a running, healthy server", live(), "none", KEPT],
        ["a stopped container", live({ container: container({ running: false, status: "exited", health: "unhealthy" }) }), "start", KEPT],
        ["a container still starting", live({ container: container({ health: "starting" }) }), "wait", KEPT],
        ["a missing container on a volume with data", live({ container: undefined }), "recreate", { renew: true }],
    ])("for %s: %s", (_what, state, step, instance) => {
        const d = decideDedicated(names, state, expected);
        expect(d).toMatchObject({ step, instance, createVolume: false });
        expect(d.problem).toBeUndefined();
    });

    it("keeps a container made before instances without one (no label, no replacement)", () => {
        const d = decideDedicated(names, live({ container: container({ labels: { "app-databases.app": "alpha" } }) }), expected);
        expect(d.instance).toEqual({ renew: false });
    });

    it("says what the up does with a missing container, naming it and the volume", () => {
        expect(decideDedicated(names, live({ container: undefined }), expected).message).toBe(
            "dedicated server of app alpha: container app-databases-dev-alpha-db is missing; the up creates it again on volume " +
                "app-databases-dev-alpha-data, which holds the data (PostgreSQL 15): database, roles and passwords are kept.",
        );
        expect(decideDedicated(names, live({ container: container({ running: false, status: "exited" }) }), expected).message).toBe(
            "dedicated server of app alpha: container app-databases-dev-alpha-db is stopped (exited); the up starts it and waits until it is healthy.",
        );
    });

    it.each([
        [
            "the volume is missing",
            live({ container: undefined, volumeExists: false, dataMajor: undefined }),
            "its data volume app-databases-dev-alpha-data is missing",
        ],
        [
            "the volume holds no data directory",
            live({ container: undefined, dataMajor: "none" }),
            "its data volume app-databases-dev-alpha-data holds no data directory (no PG_VERSION in /var/lib/postgresql/data)",
        ],
    ])("refuses when %s where the last up left data, with the way back", (_what, state, lost) => {
        const d = decideDedicated(names, state, expected);
        expect(d.problem).toBe(
            `dedicated server of app alpha: ${lost}, and the last up left the app's data there. Nothing was applied. ` +
                "The way back: restore the volume from a backup and run the up again; or, to give alpha an EMPTY server " +
                "(its database and roles made anew, with the passwords they had), set apps.alpha.dedicated.acceptEmptyData: true for one up, then remove it.",
        );
        expect(d.createVolume).toBe(false);
    });

    it("with acceptEmptyData, makes the volume anew and a new container, and says the server is EMPTY", () => {
        const d = decideDedicated(names, live({ container: undefined, volumeExists: false, dataMajor: undefined }), {
            dataExpected: true,
            acceptEmptyData: true,
        });
        expect(d).toMatchObject({ step: "recreateEmpty", instance: { renew: true }, createVolume: true });
        expect(d.problem).toBeUndefined();
        expect(d.message).toContain("alpha gets an EMPTY server");
        expect(d.message).toContain("with the passwords they had");
    });

    it("with acceptEmptyData on an emptied volume, keeps the volume and renews the container", () => {
        const d = decideDedicated(names, live({ dataMajor: "none" }), { dataExpected: true, acceptEmptyData: true });
        expect(d).toMatchObject({ step: "recreateEmpty", instance: { renew: true }, createVolume: false });
    });

    it("refuses when nothing could read the volume", () => {
        const d = decideDedicated(names, live({ container: undefined, dataMajor: undefined }), expected);
        expect(d.problem).toContain("cannot tell whether volume app-databases-dev-alpha-data holds the app's data");
    });

    it("asks for acceptEmptyData to be removed once the data is there", () => {
        const d = decideDedicated(names, live(), { dataExpected: true, acceptEmptyData: true });
        expect(d).toMatchObject({ step: "none", instance: KEPT });
        expect(d.message).toBe(
            "apps.alpha.dedicated.acceptEmptyData is set but the server's data is not missing: remove it, so that a later loss of the volume is refused again.",
        );
    });

    it("lets the engine make a server the last up did not have, with a new instance", () => {
        const d = decideDedicated(names, live({ container: undefined, volumes: [], volumeExists: false }), {
            dataExpected: false,
            acceptEmptyData: false,
        });
        expect(d).toEqual({ step: "none", instance: { renew: true }, createVolume: false });
    });
});

describe("dataExpectedIn", () => {
    const app = { name: "alpha", server: "dedicated-alpha" } as ResolvedApp;
    it.each([
        ["no last up", undefined, false],
        ["the app on its dedicated server", { apps: { alpha: { placement: "dedicated", server: "dedicated-alpha" } } }, true],
        ["the app on a shared server", { apps: { alpha: { placement: "shared", server: "lab" } } }, false],
        ["another app only", { apps: { beta: { placement: "dedicated", server: "dedicated-beta" } } }, false],
        [
            "the apps output as a secret",
            {
                apps: {
                    "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                    value: { alpha: { placement: "dedicated", server: "dedicated-alpha" } },
                },
            },
            true,
        ],
    ])("%s: %s", (_what, outputs, result) => {
        expect(dataExpectedIn(outputs, app)).toBe(result);
    });
});

describe("DedicatedStateError", () => {
    it("lists every problem and says nothing was applied", () => {
        expect(new DedicatedStateError(["one", "two"]).message).toBe(
            "Dedicated servers as they are on the Docker engine; nothing was applied:\n  - one\n  - two",
        );
    });
});
