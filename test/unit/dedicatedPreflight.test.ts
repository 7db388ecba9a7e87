import { describe, expect, it } from "vitest";
import * as net from "node:net";
import { parseStackConfig, ResolvedApp } from "../../program/config";
import type { ContainerFacts } from "../../program/dockerEngine";
import type { DedicatedLive } from "../../program/dedicatedLive";
import type { VolumePlan } from "../../program/dedicatedUpgrade";
import {
    DedicatedFacts,
    dedicatedPreflight,
    dedicatedProblems,
    imageRemedy,
    needsImage,
    plannedCommands,
    portInUse,
} from "../../program/dedicatedPreflight";

const STACK = "dev";
const configWith = (dedicated: Record<string, unknown>, defaults: Record<string, unknown> = {}) =>
    parseStackConfig({
        placement: "dedicated",
        dedicated: { image: "app-databases/postgres:{version}", version: "15", publishPort: true, ...defaults },
        apps: { ledger: { connectionLimit: 3, dedicated } },
    });
const appWith = (dedicated: Record<string, unknown>, defaults: Record<string, unknown> = {}) => configWith(dedicated, defaults).apps.ledger;

/** The command the running container was created with, and the one the program plans unless a test says otherwise. */
const CMD = ["postgres", "-c", "max_connections=15"];
const problemsOf = (app: ResolvedApp, facts: DedicatedFacts, command = CMD) => dedicatedProblems(app, STACK, facts, command);

const container = (image: string, hostPorts: number[] = [5433]): ContainerFacts => ({
    id: "c0ffee",
    name: "app-databases-dev-ledger-db",
    image,
    cmd: CMD,
    status: "running",
    running: true,
    health: "healthy",
    restartCount: 0,
    labels: {},
    volumes: {},
    hostPorts,
    env: [],
    addresses: {},
});
const VOLUME = "app-databases-dev-ledger-data";
const SERVE: VolumePlan = { kind: "serve", volume: VOLUME, kept: [] };
const live = (over: Partial<DedicatedLive> = {}): DedicatedLive => ({
    volume: VOLUME,
    volumes: [VOLUME],
    networkExists: true,
    volumeExists: true,
    ...over,
});
/** No server yet: no container, no volume. */
const NEW: DedicatedLive = live({ volumes: [], volumeExists: false, networkExists: false });
const running15: DedicatedFacts = {
    live: live({ container: container("app-databases/postgres:15"), dataMajor: "15" }),
    plan: SERVE,
    imagePresent: true,
    imageMajor: "15",
};

describe("dedicatedProblems", () => {
    it("is quiet for an unchanged running server, and for a new one whose image is there", () => {
        expect(problemsOf(appWith({ hostPort: 5433 }), running15)).toEqual([]);
        expect(problemsOf(appWith({ hostPort: 5433 }), { live: NEW, plan: SERVE, imagePresent: true })).toEqual([]);
    });

    it("does not ask for the image of an unchanged container, even when its tag is gone", () => {
        expect(problemsOf(appWith({ hostPort: 5433 }), { ...running15, imagePresent: false })).toEqual([]);
    });

    it("refuses a new server whose image is not on the engine, with the offline build", () => {
        expect(problemsOf(appWith({ version: "16", hostPort: 5433 }), { live: NEW, plan: SERVE, imagePresent: false })).toEqual([
            'apps.ledger.dedicated.image is app-databases/postgres:16 (version "16"), which is not on the Docker engine: up would create the network and volume and then find no image to start the container from. Build it offline: APP_DATABASES_PG_MAJOR=16 bash scripts/postgres-image.sh',
        ]);
    });

    it("refuses a changed image that is not on the engine, saying the running container would go first", () => {
        const app = appWith({ image: "registry.lab:5000/pg:15b", hostPort: 5433 });
        expect(problemsOf(app, { ...running15, imagePresent: false })).toEqual([
            'apps.ledger.dedicated.image is registry.lab:5000/pg:15b (version "15"), which is not on the Docker engine: up would remove the running container app-databases-dev-ledger-db (image app-databases/postgres:15) and then find no image to start its replacement from. Pull it first: docker pull registry.lab:5000/pg:15b; with no registry reachable, build app-databases/postgres:15 offline (APP_DATABASES_PG_MAJOR=15 bash scripts/postgres-image.sh) and set image: "app-databases/postgres:{version}"',
        ]);
    });

    it("refuses what the volume plan refuses (a downgrade), and reports a missing image with it", () => {
        const plan: VolumePlan = { kind: "refused", problem: "a downgrade is refused" };
        const problems = problemsOf(appWith({ version: "14", hostPort: 5433 }), {
            ...running15,
            plan,
            imagePresent: false,
            imageMajor: undefined,
        });
        expect(problems).toHaveLength(2);
        expect(problems[0]).toMatch(
            /^apps\.ledger\.dedicated\.image is app-databases\/postgres:14 .* APP_DATABASES_PG_MAJOR=14 bash scripts\/postgres-image\.sh$/,
        );
        expect(problems[1]).toBe("a downgrade is refused");
    });

    it("refuses a custom image that runs another major than the version says", () => {
        const app = appWith({ image: "pg-custom:latest", hostPort: 5433 }, { version: "16" });
        expect(problemsOf(app, { ...running15, imageMajor: "17" })).toEqual([
            'apps.ledger.dedicated.image pg-custom:latest is PostgreSQL 17 but apps.ledger.dedicated.version is "16": set apps.ledger.dedicated.version to "17", or use an image of PostgreSQL 16 (the running container is left as it is)',
        ]);
    });

    it("passes on what stops an upgrade before it starts", () => {
        const plan: VolumePlan = {
            kind: "upgrade",
            from: VOLUME,
            fromMajor: "15",
            to: `${VOLUME}-17`,
            toMajor: "17",
            kept: [VOLUME],
            startOver: false,
        };
        const facts: DedicatedFacts = { ...running15, plan, imageMajor: "17", upgradeProblems: ["the disk is full"] };
        expect(problemsOf(appWith({ version: "17", hostPort: 5433 }), facts)).toEqual(["the disk is full"]);
        expect(problemsOf(appWith({ version: "17", hostPort: 5433 }), { ...facts, upgradeProblems: [] })).toEqual([]);
    });

    it.each([
        [{ container: "other-db" }, "container other-db", "create the network and volume and then fail"],
        [{ process: true as const }, "another process on this host", "create the network and volume and then fail"],
    ])("refuses a host port held by %o", (portHolder, holder, then) => {
        expect(problemsOf(appWith({ hostPort: 5499 }), { live: NEW, plan: SERVE, imagePresent: true, portHolder })).toEqual([
            `apps.ledger.dedicated.hostPort 5499 on 127.0.0.1 is held by ${holder}: up would ${then} to publish it. Set apps.ledger.dedicated.hostPort to a free port, or stop what holds it`,
        ]);
    });
});

describe("a replaced container", () => {
    const app = appWith({ hostPort: 5433 });
    it.each([
        ["the same image, command and port", "app-databases/postgres:15", CMD, [5433], false],
        ["another image", "app-databases/postgres:14", CMD, [5433], true],
        [
            "another command (settings, memory, max_connections)",
            "app-databases/postgres:15",
            ["postgres", "-c", "max_connections=16"],
            [5433],
            true,
        ],
        ["another published port", "app-databases/postgres:15", CMD, [5434], true],
    ])("needs the image with %s", (_what, image, cmd, ports, needed) => {
        expect(needsImage(app, live({ container: { ...container(image, ports), cmd } }), CMD)).toBe(needed);
    });

    it("refuses a replacement whose image tag is gone, even with the image reference unchanged", () => {
        const problems = problemsOf(app, { ...running15, imagePresent: false }, ["postgres", "-c", "max_connections=30"]);
        expect(problems).toEqual([
            expect.stringContaining(
                "up would remove the running container app-databases-dev-ledger-db (image app-databases/postgres:15) and then find no image to start its replacement from",
            ),
        ]);
    });

    it("refuses settings PostgreSQL refuses, saying the running container would go first", () => {
        expect(problemsOf(app, { ...running15, settingsRefused: 'invalid value for parameter "shared_buffers": "lots"' })).toEqual([
            'apps.ledger.dedicated.settings are refused by PostgreSQL 15 (invalid value for parameter "shared_buffers": "lots"): up would remove the running container app-databases-dev-ledger-db and its replacement would not start. Fix apps.ledger.dedicated.settings or the stack\'s dedicated.settings (the running container is left as it is)',
        ]);
    });

    it("refuses settings that pass postgres -C but stop the server at start, tried on an empty data directory", () => {
        const startRefused = 'could not access file "no_such_lib": No such file or directory';
        expect(problemsOf(app, { ...running15, startRefused }, ["postgres", "-c", "shared_preload_libraries=no_such_lib"])).toEqual([
            `apps.ledger.dedicated: PostgreSQL 15 does not start with the new settings and memory limit (${startRefused}), tried on an empty data directory in a throwaway container: up would remove the running container app-databases-dev-ledger-db and its replacement would not start. Fix apps.ledger.dedicated.settings or apps.ledger.dedicated.memoryMb (the running container is left as it is)`,
        ]);
    });

    it("says a port change held by someone would take the running container down first", () => {
        expect(problemsOf(appWith({ hostPort: 5499 }), { ...running15, portHolder: { process: true } })).toEqual([
            "apps.ledger.dedicated.hostPort 5499 on 127.0.0.1 is held by another process on this host: up would remove the running container app-databases-dev-ledger-db and then fail to publish it. Set apps.ledger.dedicated.hostPort to a free port, or stop what holds it",
        ]);
    });

    it("plans the command the DedicatedServer is declared with, max_connections sized by the budget", () => {
        const [command] = Object.values(plannedCommands(configWith({ hostPort: 5433, settings: { max_locks_per_transaction: "256" } })));
        // 3 runtime + 2 migrate + 2+1 provisioning + 3 reserved + 5 headroom
        expect(command.slice(0, 3)).toEqual(["postgres", "-c", "max_connections=16"]);
        expect(command.slice(-2)).toEqual(["-c", "max_locks_per_transaction=256"]);
    });
});

describe("imageRemedy", () => {
    it.each([
        ["app-databases/postgres:17", "17", "build it offline: APP_DATABASES_PG_MAJOR=17 bash scripts/postgres-image.sh"],
        ["postgres:13-alpine", "13", "pull it first: docker pull postgres:13-alpine"],
        ["app-databases/postgres:13", "13", "pull it first: docker pull app-databases/postgres:13"],
    ])("for %s", (image, major, remedy) => {
        expect(imageRemedy(image, major)).toBe(remedy);
    });
});

describe("portInUse", () => {
    it("tells a port something listens on from a free one", async () => {
        const server = net.createServer();
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as net.AddressInfo).port;
        try {
            expect(await portInUse(port)).toBe(true);
        } finally {
            await new Promise((resolve) => server.close(resolve));
        }
        expect(await portInUse(port)).toBe(false);
    });
});

describe("dedicatedPreflight", () => {
    it("asks the engine nothing when the stack has no dedicated app", async () => {
        const previous = process.env.DOCKER_HOST;
        process.env.DOCKER_HOST = "ssh://nowhere"; // any request would throw
        try {
            const shared = parseStackConfig({
                servers: { lab: { host: "h", admin: { username: "a", password: "p" } } },
                apps: { wiki: {} },
            });
            expect(await dedicatedPreflight(shared, STACK)).toEqual([]);
        } finally {
            if (previous === undefined) delete process.env.DOCKER_HOST;
            else process.env.DOCKER_HOST = previous;
        }
    });

    it.each([
        ["ssh://deploy@docker-host", {}],
        ["tcp://docker-host:2376", { DOCKER_TLS_VERIFY: "1" }],
    ])("warns instead of failing when DOCKER_HOST is %s (the program cannot read that engine)", async (host, extra) => {
        const saved = { ...process.env };
        Object.assign(process.env, { DOCKER_HOST: host, ...extra });
        try {
            const warnings: string[] = [];
            expect(await dedicatedPreflight(configWith({ hostPort: 5433 }), STACK, (w) => warnings.push(w))).toEqual([]);
            expect(warnings).toEqual([
                expect.stringMatching(
                    new RegExp(`^apps\\.ledger\\.dedicated: not checked before the up \\(DOCKER_HOST=${host.replace(/[/.]/g, "\\$&")}`),
                ),
            ]);
        } finally {
            process.env = saved;
        }
    });

    it("names the app when the engine cannot be reached", async () => {
        const previous = process.env.DOCKER_HOST;
        process.env.DOCKER_HOST = "unix:///nonexistent/docker.sock";
        try {
            expect(await dedicatedPreflight(configWith({ hostPort: 5433 }), STACK)).toEqual([
                expect.stringMatching(
                    /^apps\.ledger\.dedicated: cannot check the server on the Docker engine: cannot reach the Docker engine \(\/nonexistent\/docker\.sock\)/,
                ),
            ]);
        } finally {
            if (previous === undefined) delete process.env.DOCKER_HOST;
            else process.env.DOCKER_HOST = previous;
        }
    });
});
