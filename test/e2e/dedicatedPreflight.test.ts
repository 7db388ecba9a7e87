/**
 * The preview of a dedicated app catches what `up` would trip on half-way,
 * on a real Docker engine through the real Pulumi engine: a major-version
 * change on a data directory with data (the running container and its data
 * untouched, by the preview and by `up`), host ports held by another process
 * or another container, images that are not on the engine, and settings
 * PostgreSQL refuses on a container that would be replaced. One stack per
 * scenario, named at random.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

const stacks: TestStack[] = [];
async function newStack(apps: Record<string, unknown>): Promise<TestStack> {
    const stack = await TestStack.create({ config: { placement: "dedicated", dedicated: dedicated(), apps } });
    stacks.push(stack);
    return stack;
}

beforeAll(() => {
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

    it("refuses 15 -> 17 on a server with data, in the preview and in up, leaving the container and its data as they were", async () => {
        runningPort = await freePort();
        running = await newStack({ ledger: { connectionLimit: 3, dedicated: { hostPort: runningPort } } });
        await running.stack.up({ onOutput: () => undefined });
        const { migrateUrl, runtimeUrl } = (await running.outputs()).apps.ledger;
        await queryUrl(migrateUrl, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')");
        const container = `app-databases-${running.stack.name}-ledger-db`;
        const before = docker("inspect", "-f", "{{.Id}} {{.Config.Image}} {{.State.StartedAt}}", container);

        await running.setConfig({
            placement: "dedicated",
            dedicated: dedicated(),
            apps: { ledger: { connectionLimit: 3, dedicated: { hostPort: runningPort, version: "17" } } },
        });
        const refusal =
            `apps.ledger.dedicated.version is "17" but the server's data directory (volume app-databases-${running.stack.name}-ledger-data) is PostgreSQL 15: ` +
            "changing the image would start a server that refuses that data directory, and the app would be down. " +
            'Keep apps.ledger.dedicated.version "15" (the running container is left as it is); ' +
            `to upgrade, dump and restore (README: "Changing a dedicated server's major version")`;
        const preview = await failingPreview(running);
        expect(preview).toContain("Preflight failed; nothing was applied:");
        expect(preview).toContain(refusal);

        let up = "";
        await expect(running.stack.up({ onOutput: (s) => (up += s) })).rejects.toThrow();
        expect(up).toContain(refusal);
        expect(docker("inspect", "-f", "{{.Id}} {{.Config.Image}} {{.State.StartedAt}}", container)).toBe(before);
        expect(docker("inspect", "-f", "{{.State.Status}}", container)).toBe("running");
        expect(await queryUrl(runtimeUrl, "SELECT body FROM notes")).toEqual([{ body: "kept" }]);
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
        const before = docker("inspect", "-f", "{{.Id}} {{.State.StartedAt}}", container);
        await running.setConfig({
            placement: "dedicated",
            dedicated: dedicated(),
            apps: { ledger: { connectionLimit: 3, dedicated: { hostPort: runningPort, settings: { shared_buffers: "lots" } } } },
        });
        const refusal =
            'apps.ledger.dedicated.settings are refused by PostgreSQL 15 (invalid value for parameter "shared_buffers": "lots"): ' +
            `up would remove the running container ${container} and its replacement would not start. ` +
            "Fix apps.ledger.dedicated.settings or the stack's dedicated.settings (the running container is left as it is)";
        expect(await failingPreview(running)).toContain(refusal);
        let up = "";
        await expect(running.stack.up({ onOutput: (s) => (up += s) })).rejects.toThrow();
        expect(up).toContain(refusal);
        expect(docker("inspect", "-f", "{{.Id}} {{.State.StartedAt}}", container)).toBe(before);
        // No throwaway container is left behind by the check.
        expect(docker("ps", "-aq", "--filter", `volume=app-databases-${running.stack.name}-ledger-data`).split("\n")).toHaveLength(1);
    });

    it("upgrades 15 -> 17 the way README's refusal points to: dump, remove the app, add it back on 17, restore", async () => {
        const container = `app-databases-${running.stack.name}-ledger-db`;
        const dump = execFileSync("docker", ["exec", container, "pg_dump", "-U", "postgres", "--format=custom", "ledger"]);
        const config = (apps: Record<string, unknown>) => ({ placement: "dedicated", dedicated: dedicated(), apps });
        await running.setConfig(config({}));
        await running.stack.up({ onOutput: () => undefined });
        await running.setConfig(config({ ledger: { connectionLimit: 3, dedicated: { hostPort: runningPort, version: "17" } } }));
        await running.stack.up({ onOutput: () => undefined });
        execFileSync(
            "docker",
            ["exec", "-i", container, "pg_restore", "-U", "postgres", "--no-owner", "--role=ledger_migrate", "-d", "ledger"],
            {
                input: dump,
            },
        );
        const { runtimeUrl } = (await running.outputs()).apps.ledger;
        expect(await queryUrl(runtimeUrl, "SELECT body, current_setting('server_version_num')::int / 10000 AS major FROM notes")).toEqual([
            { body: "kept", major: 17 },
        ]);
    });
});
