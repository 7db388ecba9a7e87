/**
 * A dedicated server's faults, on a real Docker engine through the real
 * Pulumi engine: a killed container is started by the next `up`, a removed
 * one is made again on its volume with the data and passwords, a lost volume
 * is refused (nothing made) until acceptEmptyData lets one `up` give the app
 * an empty server with its database and roles made again. And a container
 * made by the version before instances shows no change.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyWorkTreeProgram, extractProgramAt } from "../kit/program";
import { freePort, passwordOf, queryUrl, TestCluster } from "../kit/postgres";
import { TestStack } from "../kit/stack";

/** The image dedicated.test.ts runs on (built by scripts/postgres-image.sh); not imported, which would run its tests here. */
const LOCAL_IMAGE = process.env.APP_DATABASES_PG_IMAGE ?? "app-databases/postgres:15";
const [imageName, imageVersion] = LOCAL_IMAGE.split(":");
/** The last program before dedicated servers were looked at (containers without an instance label). */
const BEFORE_INSTANCES = "5122cce";

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();
const exists = (kind: "container" | "volume", name: string) => spawnSync("docker", [kind, "inspect", name]).status === 0;

function config(port: number, dedicated: Record<string, unknown> = {}) {
    return {
        placement: "dedicated",
        dedicated: { image: `${imageName}:{version}`, version: imageVersion, memoryMb: 256, publishPort: true },
        servers: {},
        apps: { ledger: { connectionLimit: 3, dedicated: { hostPort: port, ...dedicated } } },
    };
}

/** Runs a preview or up and returns what it printed; rejects with that text when it fails. */
async function run(stack: TestStack, op: "preview" | "up"): Promise<string> {
    let out = "";
    const onOutput = (s: string) => (out += s);
    try {
        await (op === "up" ? stack.stack.up({ onOutput }) : stack.stack.preview({ onOutput }));
    } catch (err) {
        throw new Error(`${op} failed:\n${out}\n${(err as Error).message}`);
    }
    return out;
}

const noChanges = (stack: TestStack) => {
    const preview = stack.cli("preview", "--expect-no-changes");
    expect(preview.status, preview.stdout + preview.stderr).toBe(0);
};

describe("a dedicated server's faults, seen by the next preview and up", () => {
    let stack: TestStack;
    let port: number;
    let before: Record<string, any>;
    let names: { container: string; volume: string };

    beforeAll(async () => {
        port = await freePort();
        stack = await TestStack.create({ config: config(port) });
        names = { container: `app-databases-${stack.stack.name}-ledger-db`, volume: `app-databases-${stack.stack.name}-ledger-data` };
        await run(stack, "up");
        before = await stack.outputs();
        await queryUrl(before.apps.ledger.migrateUrl, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')");
    });

    afterAll(async () => {
        await stack?.dispose();
    });

    const rowAndPasswordKept = async () => {
        const now = await stack.outputs();
        expect(passwordOf(now.apps.ledger.runtimeUrl)).toBe(passwordOf(before.apps.ledger.runtimeUrl));
        expect(await queryUrl(before.apps.ledger.runtimeUrl, "SELECT body FROM notes")).toEqual([{ body: "kept" }]);
    };

    it("starts a killed container, says so, and the row and the password still work", async () => {
        docker("kill", names.container);
        expect(docker("inspect", "-f", "{{.State.Status}}", names.container)).toBe("exited");
        expect(await run(stack, "preview")).toContain(
            `dedicated server of app ledger: container ${names.container} is stopped (exited); the up starts it and waits until it is healthy.`,
        );
        const up = await run(stack, "up");
        expect(up).toMatch(
            new RegExp(`dedicated server of app ledger: container ${names.container} was stopped; started it, healthy after [0-9.]+ s\\.`),
        );
        expect(docker("inspect", "-f", "{{.State.Health.Status}}", names.container)).toBe("healthy");
        await rowAndPasswordKept();
        noChanges(stack);
    });

    it("makes a removed container again on the same volume, keeping the row and the passwords", async () => {
        const id = docker("inspect", "-f", "{{.Id}}", names.container);
        docker("rm", "-f", names.container);
        const said =
            `dedicated server of app ledger: container ${names.container} is missing; the up creates it again on volume ${names.volume}, ` +
            `which holds the data (PostgreSQL ${imageVersion}): database, roles and passwords are kept.`;
        expect(await run(stack, "preview")).toContain(said);
        expect(await run(stack, "up")).toContain(said);
        expect(docker("inspect", "-f", "{{.Id}}", names.container)).not.toBe(id);
        expect(docker("inspect", "-f", '{{index .Config.Labels "app-databases.instance"}}', names.container)).toMatch(/^\d{4}-\d\d-\d\dT/);
        await rowAndPasswordKept();
        noChanges(stack);
    });

    it("refuses a lost volume, making nothing, and gives the app an empty server once acceptEmptyData is set", async () => {
        docker("rm", "-f", names.container);
        docker("volume", "rm", names.volume);
        const refused =
            `dedicated server of app ledger: its data volume ${names.volume} is missing, and the last up left the app's data there. Nothing was applied. ` +
            "The way back: restore the volume from a backup and run the up again; or, to give ledger an EMPTY server " +
            "(its database and roles made anew, with the passwords they had), set apps.ledger.dedicated.acceptEmptyData: true for one up, then remove it.";
        for (const op of ["preview", "up"] as const) {
            const failed = await run(stack, op).then(
                () => "",
                (err: Error) => err.message,
            );
            expect(failed).toContain(refused);
            expect(exists("volume", names.volume)).toBe(false);
            expect(exists("container", names.container)).toBe(false);
        }

        await stack.setConfig(config(port, { acceptEmptyData: true }));
        const up = await run(stack, "up");
        expect(up).toContain(
            `dedicated server of app ledger: its data volume ${names.volume} is missing; acceptEmptyData is set, so ledger gets an EMPTY server`,
        );
        const now = await stack.outputs();
        expect(passwordOf(now.apps.ledger.runtimeUrl)).toBe(passwordOf(before.apps.ledger.runtimeUrl));
        // The database and its roles are there again, empty: the row is gone, as the warning said.
        expect(await queryUrl(now.apps.ledger.runtimeUrl, "SELECT current_user AS u, current_database() AS d")).toEqual([
            { u: "ledger_app", d: "ledger" },
        ]);
        expect(await queryUrl(now.apps.ledger.runtimeUrl, "SELECT to_regclass('notes') AS t")).toEqual([{ t: null }]);
        await queryUrl(now.apps.ledger.migrateUrl, "CREATE TABLE notes (body text)");
        await expect(queryUrl(now.apps.ledger.runtimeUrl, "INSERT INTO notes VALUES ('again')")).resolves.toEqual([]);
        // The volume the program made carries the server's labels, as the stack's Volume declares them.
        expect(docker("volume", "inspect", "-f", '{{index .Labels "app-databases.app"}}', names.volume)).toBe("ledger");
        // pg_hba.conf written again: the image's own "host all all all" line is gone.
        expect(
            docker(
                "exec",
                names.container,
                "psql",
                "-U",
                "postgres",
                "-Atc",
                "SELECT count(*) FROM pg_hba_file_rules WHERE 'all' = ANY(user_name) AND auth_method <> 'reject' AND type = 'host'",
            ),
        ).toBe("0");

        await stack.setConfig(config(port));
        noChanges(stack);
    });
});

describe("a dedicated server made before instances", () => {
    let stack: TestStack;
    let oldProgram: string;

    beforeAll(async () => {
        oldProgram = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-old-"));
        extractProgramAt(BEFORE_INSTANCES, oldProgram);
        stack = await TestStack.create({ program: { dir: oldProgram, project: "app-databases" }, config: config(await freePort()) });
        await run(stack, "up");
        copyWorkTreeProgram(stack.dir);
    });

    afterAll(async () => {
        await stack?.dispose();
        if (oldProgram) fs.rmSync(oldProgram, { recursive: true, force: true });
    });

    it("shows no change, and is made again when removed", async () => {
        const container = `app-databases-${stack.stack.name}-ledger-db`;
        expect(docker("inspect", "-f", '{{index .Config.Labels "app-databases.instance"}}', container)).toBe("");
        noChanges(stack);
        const outputs = await stack.outputs();
        docker("rm", "-f", container);
        expect(await run(stack, "up")).toContain(`container ${container} is missing; the up creates it again`);
        expect(await queryUrl(outputs.apps.ledger.runtimeUrl, "SELECT current_user AS u")).toEqual([{ u: "ledger_app" }]);
        noChanges(stack);
    });
});

describe("a protected stack's database gone from its shared server", () => {
    const cluster = new TestCluster();
    let stack: TestStack;
    let before: Record<string, any>;

    beforeAll(async () => {
        await cluster.start();
        stack = await TestStack.create({
            config: {
                protect: true,
                servers: {
                    local: { host: "127.0.0.1", port: cluster.port, sslmode: "disable", admin: { username: "postgres", superuser: true } },
                },
                apps: { shop: { connectionLimit: 3 } },
            },
            secrets: [{ path: "servers.local.admin.password", value: cluster.adminPassword }],
        });
        await run(stack, "up");
        before = await stack.outputs();
    });

    afterAll(async () => {
        // Protected: the stack's resources are retained; only its files go.
        await stack?.dispose();
        await cluster.stop();
    });

    it("is refused by preview and up, named, and not made again", async () => {
        await cluster.admin("DROP DATABASE shop WITH (FORCE)");
        for (const op of ["preview", "up"] as const) {
            const failed = await run(stack, op).then(
                () => "",
                (err: Error) => err.message,
            );
            expect(failed).toContain(
                "apps.shop: database shop is gone from server local, where the last up left it, and this stack protects data (protect: true): " +
                    "it is not made again, empty. Nothing was applied. The way back: restore it from a backup (database shop, owned by shop_migrate), then run the up again.",
            );
        }
        expect(await cluster.admin("SELECT count(*)::int AS n FROM pg_database WHERE datname = 'shop'")).toEqual([{ n: 0 }]);
        // A refresh keeps its DatabaseAccess (and the roles' passwords), marked gone; the up is still refused.
        const refresh = stack.cli("refresh", "--yes", "--non-interactive");
        expect(refresh.status, refresh.stdout + refresh.stderr).toBe(0);
        expect(refresh.stdout).not.toMatch(/DatabaseAccess shop@local-access deleted/);
        const again = await run(stack, "preview").then(
            () => "",
            (err: Error) => err.message,
        );
        expect(again).toContain("apps.shop: database shop is gone from server local");

        // Restored (here: made again by hand, as a restore would): the up goes on, and the runtime password still works.
        await cluster.admin("CREATE DATABASE shop OWNER shop_migrate");
        await run(stack, "up");
        expect(await queryUrl(before.apps.shop.runtimeUrl, "SELECT current_user AS u")).toEqual([{ u: "shop_app" }]);
        noChanges(stack);
    });
});

describe("an unprotected stack's database gone from its shared server", () => {
    const cluster = new TestCluster();
    let stack: TestStack;

    beforeAll(async () => {
        await cluster.start();
        stack = await TestStack.create({
            config: {
                servers: {
                    local: { host: "127.0.0.1", port: cluster.port, sslmode: "disable", admin: { username: "postgres", superuser: true } },
                },
                apps: { shop: { connectionLimit: 3 } },
            },
            secrets: [{ path: "servers.local.admin.password", value: cluster.adminPassword }],
        });
        await run(stack, "up");
    });

    afterAll(async () => {
        await stack?.dispose();
        await cluster.stop();
    });

    it("is made again, empty, by the up after a refresh, with the passwords the roles had", async () => {
        const before = await stack.outputs();
        await cluster.admin("DROP DATABASE shop WITH (FORCE)");
        const refresh = stack.cli("refresh", "--yes", "--non-interactive");
        expect(refresh.status, refresh.stdout + refresh.stderr).toBe(0);
        await run(stack, "up");
        expect(passwordOf((await stack.outputs()).apps.shop.runtimeUrl)).toBe(passwordOf(before.apps.shop.runtimeUrl));
        expect(await queryUrl(before.apps.shop.runtimeUrl, "SELECT current_database() AS d")).toEqual([{ d: "shop" }]);
        noChanges(stack);
    });
});
