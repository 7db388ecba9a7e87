/**
 * Where a dedicated server's data goes when its major changes (planVolumes),
 * what the preview says of it, and the checks before an upgrade starts. The
 * copy itself runs for real in test/e2e/dedicatedUpgrade.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { DedicatedLive, VolumeContents } from "../../program/dedicatedLive";
import { engineNamesOf } from "../../program/dedicatedLive";
import {
    createDatabaseSql,
    diskProblem,
    extensionsProblem,
    planMessage,
    planVolumes,
    superuserEndpoint,
    volumesToRead,
} from "../../program/dedicatedUpgrade";
import type { ContainerFacts } from "../../program/dockerEngine";

const n = engineNamesOf("ledger", "dev");
const BASE = "app-databases-dev-ledger-data";
const V17 = `${BASE}-17`;

const container = (volume: string): ContainerFacts => ({
    id: "c0ffee",
    name: n.container,
    image: "app-databases/postgres:15",
    cmd: [],
    status: "running",
    running: true,
    health: "healthy",
    restartCount: 0,
    labels: {},
    volumes: { "/var/lib/postgresql/data": volume },
    hostPorts: [],
    env: ["POSTGRES_USER=postgres", "POSTGRES_PASSWORD=s3cret"],
    addresses: { [n.network]: "172.30.0.2" },
});
const live = (volume: string, dataMajor: string | undefined, volumes: string[] = [volume]): DedicatedLive => ({
    container: container(volume),
    volume,
    volumes,
    volumeExists: true,
    networkExists: true,
    ...(dataMajor ? { dataMajor } : {}),
});
const holds = (dataMajor: string, upgradeUnfinished = false): VolumeContents => ({ dataMajor, upgradeUnfinished });

describe("planVolumes", () => {
    it.each<[string, DedicatedLive, string]>([
        ["the same major", live(BASE, "15"), "15"],
        ["an empty volume", live(BASE, "none"), "17"],
        ["a volume no image could read", live(BASE, undefined), "17"],
        ["a new server", { volume: BASE, volumes: [], volumeExists: false, networkExists: false }, "17"],
    ])("serves from the volume as it is for %s", (_what, state, major) => {
        expect(planVolumes(n, state, major, {})).toEqual({ kind: "serve", volume: BASE, kept: [] });
        expect(volumesToRead(state, major)).toEqual([]);
    });

    it("keeps the other volumes of an upgraded server beside the one it serves from", () => {
        expect(planVolumes(n, live(V17, "17", [BASE, V17]), "17", {})).toEqual({ kind: "serve", volume: V17, kept: [BASE] });
    });

    it("upgrades into a new volume named by the major, keeping the old one as the rollback", () => {
        expect(planVolumes(n, live(BASE, "15"), "17", {})).toEqual({
            kind: "upgrade",
            from: BASE,
            fromMajor: "15",
            to: V17,
            toMajor: "17",
            kept: [BASE],
            startOver: false,
        });
    });

    it("starts over from an unfinished earlier attempt (its marker, or no data directory)", () => {
        const state = live(BASE, "15", [BASE, V17]);
        expect(volumesToRead(state, "17")).toEqual([V17]);
        expect(planVolumes(n, state, "17", { [V17]: holds("17", true) })).toMatchObject({ kind: "upgrade", startOver: true });
        expect(planVolumes(n, state, "17", { [V17]: holds("none") })).toMatchObject({ kind: "upgrade", startOver: true });
    });

    it("refuses to overwrite a complete volume of the new major that does not serve", () => {
        const plan = planVolumes(n, live(BASE, "15", [BASE, V17]), "17", { [V17]: holds("17") });
        expect(plan).toEqual({
            kind: "refused",
            problem:
                `apps.ledger.dedicated.version is "17": the upgrade from PostgreSQL 15 (volume ${BASE}) would copy the data into volume ${V17}, ` +
                "which exists already and holds a PostgreSQL 17 data directory that does not serve (an upgrade that was rolled back, or one that was copied but not cut over). " +
                `Nothing was applied; the running container is left as it is. If you do not need what ${V17} holds, remove it (docker volume rm ${V17}) and run again; ` +
                'or keep apps.ledger.dedicated.version "15"',
        });
    });

    it("rolls back to a kept volume of the configured major, keeping the newer one", () => {
        const state = live(V17, "17", [BASE, V17]);
        expect(planVolumes(n, state, "15", { [BASE]: holds("15") })).toEqual({
            kind: "rollback",
            from: V17,
            fromMajor: "17",
            to: BASE,
            toMajor: "15",
            kept: [V17],
        });
    });

    it.each<[string, DedicatedLive, Record<string, VolumeContents>]>([
        ["with no other volume", live(BASE, "15"), {}],
        ["when no kept volume holds that major", live(V17, "17", [BASE, V17]), { [BASE]: holds("15") }],
        ["when the kept volume is an unfinished copy", live(BASE, "17", [BASE, `${BASE}-16`]), { [`${BASE}-16`]: holds("16", true) }],
    ])("refuses a downgrade %s, saying why", (_what, state, contents) => {
        const plan = planVolumes(n, state, state.dataMajor === "15" ? "14" : "16", contents);
        expect(plan.kind).toBe("refused");
        expect(plan.kind === "refused" && plan.problem).toMatch(
            /^apps\.ledger\.dedicated\.version is "1[46]" but the server's data \(volume .*\) is PostgreSQL 1[57]: a downgrade is refused\. PostgreSQL 1[46] cannot start on a data directory 1[57] wrote, and a dump of 1[57] may use what 1[46] lacks, so the tool does not carry data to an older major.*\. Nothing was applied; the running container is left as it is\. Keep apps\.ledger\.dedicated\.version "1[57]"$/,
        );
    });
});

describe("planMessage", () => {
    it("says what an upgrade does, what it keeps and what it does not carry", () => {
        const plan = planVolumes(n, live(BASE, "15"), "17", {});
        expect(planMessage(n, plan, 48 << 20)).toBe(
            `dedicated server of app ledger: apps.ledger.dedicated.version "17" upgrades its data from PostgreSQL 15 (volume ${BASE}, 48 MiB): ` +
                `the up copies it by dump and restore into a PostgreSQL 17 server on a new volume ${V17} while ${n.container} keeps serving, ` +
                `checks every table's rows and checksum, then replaces ${n.container} by a PostgreSQL 17 container on ${V17} (same host port, outputs and passwords). ` +
                "Writes made during the copy are not carried: stop the app's writers first. " +
                `Volume ${BASE} is kept as the rollback (README: "Changing a dedicated server's major version").`,
        );
        expect(planMessage(n, { kind: "serve", volume: BASE, kept: [] })).toBeUndefined();
    });
});

describe("the checks before an upgrade", () => {
    it("refuses when the Docker data root has no room for a second copy", () => {
        expect(diskProblem("ledger", 100 << 20, 1 << 30, BASE)).toBeUndefined();
        expect(diskProblem("ledger", 1 << 30, 1 << 30, BASE)).toBe(
            "apps.ledger.dedicated.version: the upgrade needs about 1.6 GiB free where Docker keeps its volumes " +
                `(the data directory on ${BASE} is 1.0 GiB; the copy is made beside it), and 1.0 GiB is free. ` +
                "Nothing was applied; free some space (docker system df shows what takes it) and run again",
        );
    });

    it("names each extension the new image lacks, with its database", () => {
        expect(extensionsProblem("ledger", "app-databases/postgres:17", { ledger: ["pgcrypto"] }, ["pgcrypto", "plpgsql"])).toBeUndefined();
        expect(extensionsProblem("ledger", "app-databases/postgres:17", { ledger: ["pgcrypto", "postgis"] }, ["pgcrypto"])).toBe(
            "apps.ledger.dedicated.version: image app-databases/postgres:17 lacks the extension postgis (database ledger), so the restore would fail. " +
                "Nothing was applied; use an image that has it (apps.ledger.dedicated.image), or drop it from the app first",
        );
    });

    it("reaches a container as the superuser at its address on the app's network, with its own password", () => {
        expect(superuserEndpoint(container(BASE), n.network, "ledger")).toEqual({
            host: "172.30.0.2",
            port: 5432,
            user: "postgres",
            password: "s3cret",
            database: "ledger",
            sslmode: "disable",
            connectTimeoutSeconds: 10,
        });
        expect(() => superuserEndpoint(container(BASE), "other-net")).toThrow(
            `container ${n.container} has no address on network other-net`,
        );
    });

    it("makes each database with its owner and locale, quoted", () => {
        expect(createDatabaseSql({ name: "ledger", owner: "ledger_migrate", encoding: "UTF8", collate: "C.UTF-8", ctype: "C.UTF-8" })).toBe(
            `CREATE DATABASE "ledger" WITH OWNER "ledger_migrate" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'`,
        );
    });
});
