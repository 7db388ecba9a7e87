/**
 * Dedicated placement on a real Docker engine: a Postgres container per app
 * (the image built locally from Debian packages by scripts/postgres-image.sh),
 * next to an app on a shared server, through the real Pulumi engine.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, passwordOf, queryUrl, TestCluster } from "../kit/postgres";
import { TestStack } from "../kit/stack";

export const LOCAL_IMAGE = process.env.APP_DATABASES_PG_IMAGE ?? "app-databases/postgres:15";
const [imageName, imageVersion] = LOCAL_IMAGE.split(":");

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();
const dockerJson = (...args: string[]) => JSON.parse(docker(...args));
/** A query as the superuser on the container's socket (pg_hba's `local` line). */
const superuserQuery = (container: string, sql: string) => docker("exec", container, "psql", "-U", "postgres", "-Atc", sql);

/** Waits until the container's healthcheck passes. */
async function healthy(container: string): Promise<void> {
    for (let i = 0; i < 90; i++) {
        if (docker("inspect", "-f", "{{.State.Health.Status}}", container) === "healthy") return;
        await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`${container} did not become healthy`);
}

const cluster = new TestCluster();
let stack: TestStack;
let ports: { alpha: number; beta: number };
let outputs: Record<string, any>;

function config(alphaMemoryMb = 256, gamma: Record<string, unknown> = { placement: "shared", connectionLimit: 2 }) {
    return {
        placement: "dedicated",
        dedicated: { image: `${imageName}:{version}`, version: imageVersion, memoryMb: 256, publishPort: true },
        servers: { local: { host: "127.0.0.1", port: cluster.port, sslmode: "disable", admin: { username: "postgres", superuser: true } } },
        apps: {
            alpha: { connectionLimit: 4, dedicated: { hostPort: ports.alpha, memoryMb: alphaMemoryMb } },
            beta: { access: "readonly", connectionLimit: 3, dedicated: { hostPort: ports.beta } },
            gamma,
        },
    };
}
const secrets = () => [{ path: "servers.local.admin.password", value: cluster.adminPassword }];
const containerOf = (app: string) => `app-databases-${stack.stack.name}-${app}-db`;

beforeAll(async () => {
    await cluster.start();
    ports = { alpha: await freePort(), beta: await freePort() };
    stack = await TestStack.create({ config: config(), secrets: secrets() });
    const started = Date.now();
    await stack.stack.up({ onOutput: (s) => process.stdout.write(s) });
    console.log(`dedicated stack up from nothing: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    outputs = await stack.outputs();
});

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
});

describe("dedicated containers, for real", () => {
    it("brings up two dedicated apps and a shared one whose roles work only on their own server", async () => {
        const apps = outputs.apps;
        expect(apps.alpha).toMatchObject({
            placement: "dedicated",
            host: "127.0.0.1",
            port: ports.alpha,
            internalHost: containerOf("alpha"),
        });
        expect(apps.gamma).toMatchObject({ placement: "shared", port: cluster.port });
        for (const app of ["alpha", "beta", "gamma"]) {
            expect(await queryUrl(apps[app].runtimeUrl, "SELECT current_user AS u")).toEqual([{ u: `${app}_app` }]);
        }
        // alpha's credentials, pointed at beta's container (its pg_hba names beta's roles only) and the shared server, are refused
        const alphaAt = (port: number) => {
            const url = new URL(apps.alpha.runtimeUrl);
            url.port = String(port);
            return url.toString();
        };
        await expect(queryUrl(alphaAt(ports.beta), "SELECT 1")).rejects.toThrow(/pg_hba\.conf rejects connection .*user "alpha_app"/);
        await expect(queryUrl(alphaAt(cluster.port), "SELECT 1")).rejects.toThrow(/password authentication failed|does not exist/);
        expect(apps.alpha.internalRuntimeUrl).toContain(`@${containerOf("alpha")}:5432/alpha`);
    });

    it("changes nothing on a second preview", async () => {
        const preview = await stack.stack.preview({ onOutput: () => undefined });
        expect(Object.keys(preview.changeSummary).filter((k) => k !== "same")).toEqual([]);
    });

    it("publishes each container's port on 127.0.0.1 only", () => {
        for (const app of ["alpha", "beta"]) {
            const [info] = dockerJson("inspect", containerOf(app));
            const bindings = info.HostConfig.PortBindings["5432/tcp"];
            expect(bindings).toEqual([{ HostIp: "127.0.0.1", HostPort: String(ports[app as "alpha" | "beta"]) }]);
            expect(info.HostConfig.RestartPolicy.Name).toBe("unless-stopped");
            expect(info.HostConfig.Memory).toBe(256 * 1024 * 1024);
            expect(info.Config.Labels).toMatchObject({ "app-databases.app": app, "app-databases.stack": stack.stack.name });
        }
    });

    it("lets each app's roles in only from its own network and to its own database (pg_hba.conf written by the stack)", async () => {
        const { alpha } = outputs.apps;
        const container = containerOf("alpha");
        /** psql inside the container, over TCP to its loopback: a source outside the app's network. */
        const fromInside = (url: string) => {
            const u = new URL(url);
            return spawnSync(
                "docker",
                [
                    "exec",
                    "-e",
                    `PGPASSWORD=${decodeURIComponent(u.password)}`,
                    container,
                    "psql",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    u.username,
                    "-d",
                    "alpha",
                    "-Atc",
                    "SELECT 1",
                ],
                { encoding: "utf8" },
            );
        };
        // The image's own pg_hba.conf lets any role in from 127.0.0.1 with a password: no longer.
        for (const url of [alpha.runtimeUrl, alpha.migrateUrl]) {
            const inside = fromInside(url);
            expect(inside.status).not.toBe(0);
            expect(inside.stderr).toMatch(/pg_hba\.conf rejects connection for host "127\.0\.0\.1", user "alpha_(app|migrate)"/);
        }
        // From the app's network (the published port arrives from its gateway): in, but to its own database only.
        expect(await queryUrl(alpha.runtimeUrl, "SELECT current_user AS u")).toEqual([{ u: "alpha_app" }]);
        const other = new URL(alpha.runtimeUrl);
        other.pathname = "/postgres";
        await expect(queryUrl(other.toString(), "SELECT 1")).rejects.toThrow(/pg_hba\.conf rejects connection .*database "postgres"/);

        const rules = superuserQuery(
            container,
            "SELECT count(*) FILTER (WHERE error IS NOT NULL) || ' ' || string_agg(auth_method, ',' ORDER BY line_number) FROM pg_hba_file_rules",
        );
        expect(rules).toBe("0 trust,scram-sha-256,scram-sha-256,reject,reject,scram-sha-256,reject");
    });

    it("sees a hand edit of pg_hba.conf as drift, and the next up writes the rules back", async () => {
        const container = containerOf("beta");
        docker(
            "exec",
            "-u",
            "postgres",
            container,
            "sh",
            "-c",
            `echo 'host all all all trust' > "$PGDATA/pg_hba.conf" && pg_ctl reload -D "$PGDATA"`,
        );
        await stack.stack.refresh({ onOutput: () => undefined });
        const preview = await stack.stack.preview({ onOutput: () => undefined });
        expect(preview.changeSummary.update).toBe(1);
        await stack.stack.up({ onOutput: () => undefined });
        expect(superuserQuery(container, "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust' AND type = 'host'")).toBe("0");
        const again = await stack.stack.preview({ onOutput: () => undefined });
        expect(Object.keys(again.changeSummary).filter((k) => k !== "same")).toEqual([]);
    });

    it("sizes max_connections from the app's ConnectionBudget", async () => {
        const budget = outputs.budgets["dedicated-alpha"];
        // 4 runtime + 2 migrate + 2+1 provisioning + 3 reserved + 5 headroom
        expect(budget.maxConnections).toBe(17);
        expect(await queryUrl(outputs.apps.alpha.runtimeUrl, "SHOW max_connections")).toEqual([{ max_connections: "17" }]);
    });

    it("keeps a row across a container restart", async () => {
        await queryUrl(outputs.apps.alpha.migrateUrl, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('before restart')");
        docker("restart", containerOf("alpha"));
        await healthy(containerOf("alpha"));
        expect(await queryUrl(outputs.apps.alpha.runtimeUrl, "SELECT body FROM notes")).toEqual([{ body: "before restart" }]);
    });

    it("keeps the row and the passwords when a config change replaces the container", async () => {
        const before = docker("inspect", "-f", "{{.Id}}", containerOf("alpha"));
        await stack.setConfig(config(320), secrets());
        await stack.stack.up({ onOutput: () => undefined });
        const after = docker("inspect", "-f", "{{.Id}}", containerOf("alpha"));
        expect(after).not.toBe(before);
        expect(dockerJson("inspect", containerOf("alpha"))[0].HostConfig.Memory).toBe(320 * 1024 * 1024);
        const now = await stack.outputs();
        expect(passwordOf(now.apps.alpha.runtimeUrl)).toBe(passwordOf(outputs.apps.alpha.runtimeUrl));
        expect(await queryUrl(now.apps.alpha.runtimeUrl, "SELECT body FROM notes")).toEqual([{ body: "before restart" }]);
    });

    it("refuses to move an app to another placement silently, and moves it with its data once acknowledged", async () => {
        await queryUrl(outputs.apps.gamma.migrateUrl, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)");
        const moved = { connectionLimit: 2, dedicated: { hostPort: await freePort() } };
        await stack.setConfig(config(320, moved), secrets());
        let preview = "";
        await expect(stack.stack.preview({ onOutput: (s) => (preview += s) })).rejects.toThrow();
        expect(preview).toContain("apps.gamma moves from local (shared) to dedicated-gamma (dedicated)");
        expect(preview.replace(/\s+/g, " ")).toContain("the up copies database gamma into a new database on dedicated-gamma");
        await expect(stack.stack.up({ onOutput: () => undefined })).rejects.toThrow(/allowMoveFrom/);
        expect((await cluster.catalog()).databases).toContain("gamma"); // nothing was applied

        await stack.setConfig(config(320, { ...moved, allowMoveFrom: "local" }), secrets());
        await stack.stack.up({ onOutput: () => undefined });
        const now = (await stack.outputs()).apps.gamma;
        expect(now.placement).toBe("dedicated");
        expect(await queryUrl(now.runtimeUrl, "SELECT current_database() AS db")).toEqual([{ db: "gamma" }]);
        expect(await queryUrl(now.runtimeUrl, "SELECT x FROM kept")).toEqual([{ x: 7 }]); // the data came along
        expect((await cluster.catalog()).databases).toContain("gamma"); // the old one is kept until retired
        await expect(queryUrl(outputs.apps.gamma.runtimeUrl, "SELECT 1")).rejects.toThrow(/permission denied for database/);

        // Retired (allowMoveFrom removed), the stack forgets the old copy; dropped by hand as the README says.
        await stack.setConfig(config(320, moved), secrets());
        await stack.stack.up({ onOutput: () => undefined });
        expect((await cluster.catalog()).databases).toContain("gamma");
        await cluster.admin("DROP DATABASE gamma WITH (FORCE)");
        await cluster.admin("DROP ROLE gamma_app, gamma_migrate");
    });

    it("removes its containers, networks and volumes on destroy (dev)", async () => {
        const label = `label=app-databases.stack=${stack.stack.name}`;
        expect(docker("ps", "-a", "-q", "--filter", label).split("\n").filter(Boolean)).toHaveLength(3);
        await stack.stack.destroy({ onOutput: () => undefined });
        expect(docker("ps", "-a", "-q", "--filter", label)).toBe("");
        expect(docker("network", "ls", "-q", "--filter", label)).toBe("");
        expect(docker("volume", "ls", "-q", "--filter", label)).toBe("");
        expect(await cluster.catalog()).toEqual({ roles: [], databases: [] });
    });
});

describe("a prod-like stack", () => {
    it("refuses to destroy, and keeps the volume with its data once unprotected and destroyed", async () => {
        const port = await freePort();
        const prod = await TestStack.create({
            config: {
                protect: true,
                placement: "dedicated",
                dedicated: { image: `${imageName}:{version}`, version: imageVersion, memoryMb: 256, publishPort: true },
                apps: { ledger: { dedicated: { hostPort: port } } },
            },
        });
        const volume = `app-databases-${prod.stack.name}-ledger-data`;
        try {
            await prod.stack.up({ onOutput: () => undefined });
            const { apps } = await prod.outputs();
            await queryUrl(apps.ledger.migrateUrl, "CREATE TABLE entries (amount int); INSERT INTO entries VALUES (42)");

            await expect(prod.stack.destroy({ onOutput: () => undefined })).rejects.toThrow(/protect/);
            const unprotect = prod.cli("state", "unprotect", "--all", "--yes");
            expect(unprotect.status, unprotect.stderr).toBe(0);
            await prod.stack.destroy({ onOutput: () => undefined });

            // The container is gone; the volume (retainOnDelete) and its cluster are still there.
            expect(docker("ps", "-a", "-q", "--filter", `label=app-databases.stack=${prod.stack.name}`)).toBe("");
            expect(docker("volume", "ls", "-q", "--filter", `name=${volume}`)).toBe(volume);
            const pgVersion = docker("run", "--rm", "-v", `${volume}:/data`, "--entrypoint", "cat", LOCAL_IMAGE, "/data/PG_VERSION");
            expect(pgVersion).toMatch(/^\d+$/);
        } finally {
            await prod.dispose();
            spawnSync("docker", ["volume", "rm", "-f", volume]);
        }
    });
});
