/**
 * The preview of a dedicated app catches what `up` would trip on half-way,
 * on a real Docker engine through the real Pulumi engine: host ports held by
 * another process or another container, images that are not on the engine,
 * settings PostgreSQL refuses on a container that would be replaced, and
 * settings that stop it at start (the running container untouched and
 * reachable). A major-version change shows as an upgrade and changes nothing
 * in the preview (the upgrade itself: dedicatedUpgrade.test.ts), and a good
 * replacement costs one short outage. One stack per scenario, named at random.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installClientTools } from "../../scripts/pgClientTools";
import { freePort, queryUrl } from "../kit/postgres";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();
const imageOnEngine = (image: string) => spawnSync("docker", ["image", "inspect", image], { stdio: "ignore" }).status === 0;
/** What the stack made on the engine: containers, volumes and networks with its label. */
const madeBy = (stack: string) =>
    (["container", "volume", "network"] as const).flatMap((kind) =>
        docker(kind, "ls", ...(kind === "container" ? ["-a"] : []), "-q", "--filter", `label=app-databases.stack=${stack}`)
            .split("\n")
            .filter(Boolean)
            .map((id) => `${kind} ${id}`),
    );

const dedicated = (extra: Record<string, unknown> = {}) => ({
    image: "app-databases/postgres:{version}",
    version: "15",
    memoryMb: 256,
    publishPort: true,
    ...extra,
});

async function failingPreview(stack: TestStack): Promise<string> {
    let output = "";
    await expect(stack.stack.preview({ onOutput: (s) => (output += s) })).rejects.toThrow();
    return output;
}

/** Sets the running stack's ledger with these dedicated keys beside its host port. */
const setLedger = (stack: TestStack, hostPort: number, extra: Record<string, unknown> = {}) =>
    stack.setConfig({
        placement: "dedicated",
        dedicated: dedicated(),
        apps: { ledger: { connectionLimit: 3, dedicated: { hostPort, ...extra } } },
    });

/** The preview and the up both refuse with `refusal`, and the running container keeps its id and start time. */
async function refusedLeavingContainer(stack: TestStack, container: string, refusal: string): Promise<void> {
    const before = docker("inspect", "-f", "{{.Id}} {{.State.StartedAt}}", container);
    expect(await failingPreview(stack)).toContain(refusal);
    let up = "";
    await expect(stack.stack.up({ onOutput: (s) => (up += s) })).rejects.toThrow();
    expect(up).toContain(refusal);
    expect(docker("inspect", "-f", "{{.Id}} {{.State.StartedAt}}", container)).toBe(before);
}

const stacks: TestStack[] = [];
async function newStack(apps: Record<string, unknown>): Promise<TestStack> {
    const stack = await TestStack.create({ config: { placement: "dedicated", dedicated: dedicated(), apps } });
    stacks.push(stack);
    return stack;
}

beforeAll(() => {
    // The upgrade's pre-checks look for the client tools it copies with (README: "What the preview checks").
    process.env.APP_DATABASES_PG_CLIENT_BIN = installClientTools();
    // The target of the upgrade (cached: a second or two once built).
    execFileSync("bash", [path.join(PROJECT_ROOT, "scripts", "postgres-image.sh")], {
        env: { ...process.env, APP_DATABASES_PG_MAJOR: "17" },
        stdio: ["ignore", "inherit", "inherit"],
    });
});

afterAll(async () => {
    await Promise.all(stacks.map((s) => s.dispose()));
});

describe("the preview of dedicated servers", () => {
    let running: TestStack;
    let runningPort: number;

    it("shows 15 -> 17 on a server with data as an upgrade in the preview, changing nothing until the up", async () => {
        runningPort = await freePort();
        running = await newStack({ ledger: { connectionLimit: 3, dedicated: { hostPort: runningPort } } });
        await running.stack.up({ onOutput: () => undefined });
        const { migrateUrl, runtimeUrl } = (await running.outputs()).apps.ledger;
        await queryUrl(migrateUrl, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')");
        const container = `app-databases-${running.stack.name}-ledger-db`;
        const before = docker("inspect", "-f", "{{.Id}} {{.Config.Image}} {{.State.StartedAt}}", container);
        const made = madeBy(running.stack.name);

        await setLedger(running, runningPort, { version: "17" });
        let preview = "";
        await running.stack.preview({ onOutput: (s) => (preview += s) });
        expect(preview).toContain(
            `dedicated server of app ledger: apps.ledger.dedicated.version "17" upgrades its data from PostgreSQL 15 (volume app-databases-${running.stack.name}-ledger-data): ` +
                `the up copies it by dump and restore into a PostgreSQL 17 server on a new volume app-databases-${running.stack.name}-ledger-data-17`,
        );
        expect(docker("inspect", "-f", "{{.Id}} {{.Config.Image}} {{.State.StartedAt}}", container)).toBe(before);
        expect(madeBy(running.stack.name)).toEqual(made);
        expect(await queryUrl(runtimeUrl, "SELECT body FROM notes")).toEqual([{ body: "kept" }]);
        await setLedger(running, runningPort);
    });

    it("refuses host ports held by a process and by another stack's container, naming each, and creates nothing", async () => {
        const listener = net.createServer();
        await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
        const heldPort = (listener.address() as net.AddressInfo).port;
        try {
            const stack = await newStack({
                alpha: { connectionLimit: 2, dedicated: { hostPort: heldPort } },
                beta: { connectionLimit: 2, dedicated: { hostPort: runningPort } },
            });
            const preview = await failingPreview(stack);
            expect(preview).toContain(
                `apps.alpha.dedicated.hostPort ${heldPort} on 127.0.0.1 is held by another process on this host: up would create the network and volume and then fail to publish it. ` +
                    "Set apps.alpha.dedicated.hostPort to a free port, or stop what holds it",
            );
            expect(preview).toContain(
                `apps.beta.dedicated.hostPort ${runningPort} on 127.0.0.1 is held by container app-databases-${running.stack.name}-ledger-db: up would create the network and volume`,
            );
            expect(madeBy(stack.stack.name)).toEqual([]);
        } finally {
            await new Promise((resolve) => listener.close(resolve));
        }
    });

    it("refuses images that are not on the engine, with the offline build or the pull, and creates nothing", async () => {
        // A major the local recipe builds that nobody built here (checked, not assumed).
        const unbuilt = ["16", "18", "14"].find((m) => !imageOnEngine(`app-databases/postgres:${m}`));
        const custom = `app-databases/e2e-never-built-${Date.now()}:15`;
        const stack = await newStack({
            ...(unbuilt ? { gamma: { connectionLimit: 2, dedicated: { hostPort: await freePort(), version: unbuilt } } } : {}),
            delta: { connectionLimit: 2, dedicated: { hostPort: await freePort(), image: custom } },
        });
        const preview = await failingPreview(stack);
        if (unbuilt) {
            expect(preview).toContain(
                `apps.gamma.dedicated.image is app-databases/postgres:${unbuilt} (version "${unbuilt}"), which is not on the Docker engine: ` +
                    "up would create the network and volume and then find no image to start the container from. " +
                    `Build it offline: APP_DATABASES_PG_MAJOR=${unbuilt} bash scripts/postgres-image.sh`,
            );
        }
        expect(preview).toContain(`apps.delta.dedicated.image is ${custom} (version "15"), which is not on the Docker engine`);
        expect(preview).toContain(`Pull it first: docker pull ${custom}`);
        expect(madeBy(stack.stack.name)).toEqual([]);
    });

    it("refuses settings PostgreSQL refuses before the replacement would remove the running container", async () => {
        const container = `app-databases-${running.stack.name}-ledger-db`;
        await setLedger(running, runningPort, { settings: { shared_buffers: "lots" } });
        await refusedLeavingContainer(
            running,
            container,
            'apps.ledger.dedicated.settings are refused by PostgreSQL 15 (invalid value for parameter "shared_buffers": "lots"): ' +
                `up would remove the running container ${container} and its replacement would not start. ` +
                "Fix apps.ledger.dedicated.settings or the stack's dedicated.settings (the running container is left as it is)",
        );
        // No throwaway container is left behind by the check.
        expect(docker("ps", "-aq", "--filter", `volume=app-databases-${running.stack.name}-ledger-data`).split("\n")).toHaveLength(1);
    });

    it("refuses a setting that passes postgres -C but stops the server at start, and the app stays reachable", async () => {
        const container = `app-databases-${running.stack.name}-ledger-db`;
        const { runtimeUrl } = (await running.outputs()).apps.ledger;
        await setLedger(running, runningPort, { settings: { shared_preload_libraries: "no_such_lib" } });
        await refusedLeavingContainer(
            running,
            container,
            'apps.ledger.dedicated: PostgreSQL 15 does not start with the new settings and memory limit (could not access file "no_such_lib": No such file or directory), ' +
                `tried on an empty data directory in a throwaway container: up would remove the running container ${container} and its replacement would not start. ` +
                "Fix apps.ledger.dedicated.settings or apps.ledger.dedicated.memoryMb (the running container is left as it is)",
        );
        expect(await queryUrl(runtimeUrl, "SELECT body FROM notes")).toEqual([{ body: "kept" }]);
        // The trial leaves nothing behind.
        expect(
            docker("ps", "-aq", "--filter", "label=app-databases.purpose=try a dedicated server's new settings on an empty data directory"),
        ).toBe("");
    });

    it("replaces the container on a good settings change with one short outage, seen by a client polling SELECT 1 every 200 ms", async () => {
        const { runtimeUrl } = (await running.outputs()).apps.ledger;
        await setLedger(running, runningPort, { settings: { work_mem: "8MB" } });
        const failures: { at: number; ok: boolean }[] = [];
        let polling = true;
        const poller = (async () => {
            while (polling) {
                const at = Date.now();
                const ok = await queryUrl(`${runtimeUrl}${runtimeUrl.includes("?") ? "&" : "?"}connect_timeout=1`, "SELECT 1").then(
                    () => true,
                    () => false,
                );
                failures.push({ at, ok });
                await new Promise((r) => setTimeout(r, Math.max(0, 200 - (Date.now() - at))));
            }
        })();
        try {
            await running.stack.up({ onOutput: () => undefined });
        } finally {
            polling = false;
            await poller;
        }
        // The longest run of failed polls, from its first failure to the next success.
        let longest = 0;
        let since: number | undefined;
        for (const p of failures) {
            if (!p.ok) since ??= p.at;
            else if (since !== undefined) {
                longest = Math.max(longest, p.at - since);
                since = undefined;
            }
        }
        expect(since, "the server answered again after the replacement").toBeUndefined();
        console.log(
            `replacement outage: longest failure ${longest} ms over ${failures.filter((p) => !p.ok).length} of ${failures.length} polls`,
        );
        expect(
            failures.some((p) => !p.ok),
            "the replacement did stop and start the server",
        ).toBe(true);
        // The container's healthcheck interval (components/dedicatedServer.ts).
        expect(longest).toBeLessThanOrEqual(2_000);
        expect(docker("inspect", "-f", "{{json .Config.Cmd}}", `app-databases-${running.stack.name}-ledger-db`)).toContain("work_mem=8MB");
    });
});
