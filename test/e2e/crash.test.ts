/**
 * After a crash: the CLI killed with SIGKILL in the middle of a first `up`
 * (shared apps and a dedicated one). The engine's plugins go on and finish
 * creates the state never records, the stack stays locked, and its pending
 * operations outlive the next `up`. scripts/recover.sh must say what is left
 * and the exact commands, then with --yes converge: the lock gone, the
 * pending operations forgotten, every app's roles logging in with the
 * passwords in the state, nothing on the server or the Docker engine that the
 * stack does not know, and a preview with no changes.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, queryUrl, TestCluster } from "../kit/postgres";
import { TestStack } from "../kit/stack";

const [imageName, imageVersion] = (process.env.APP_DATABASES_PG_IMAGE ?? "app-databases/postgres:15").split(":");
const SHARED = ["app_a", "app_b", "app_c", "app_d", "app_e", "app_f"];
const cluster = new TestCluster();
let stack: TestStack;
let hostPort: number;

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();

function config() {
    return {
        dedicated: { image: `${imageName}:{version}`, version: imageVersion, memoryMb: 256, publishPort: true },
        servers: { local: { host: "127.0.0.1", port: cluster.port, sslmode: "disable", admin: { username: "postgres", superuser: true } } },
        apps: {
            ...Object.fromEntries(SHARED.map((a) => [a, { access: "readwrite", connectionLimit: 2 }])),
            solo: { placement: "dedicated", connectionLimit: 3, dedicated: { hostPort } },
        },
    };
}

/** `pulumi up` as a user starts it, in the background, to be killed. */
function startUp(): ChildProcess {
    return spawn("pulumi", ["up", "--yes", "--skip-preview", "--stack", stack.stack.name], {
        cwd: stack.dir,
        env: {
            ...process.env,
            PULUMI_BACKEND_URL: `file://${stack.backendDir}`,
            PULUMI_CONFIG_PASSPHRASE: stack.passphrase,
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        },
        stdio: "ignore",
    });
}

const appDatabases = async () =>
    (await cluster.admin<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'app\\_%' ORDER BY 1")).map(
        (r) => r.datname,
    );
const appRoles = async () =>
    (await cluster.admin<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname LIKE 'app\\_%' ORDER BY 1")).map(
        (r) => r.rolname,
    );
// As Pulumi reads the state: the checkpoint with the journal of an update that died replayed onto it.
const pendingOperations = () => JSON.parse(stack.cli("stack", "export").stdout).deployment?.pending_operations ?? [];

beforeAll(async () => {
    await cluster.start();
    hostPort = await freePort();
    stack = await TestStack.create({ config: config(), secrets: [{ path: "servers.local.admin.password", value: cluster.adminPassword }] });
}, 120_000);

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
});

describe("a crash in the middle of an up", () => {
    it("is recovered by scripts/recover.sh with nothing lost or orphaned", async () => {
        const up = startUp();
        // Killed once the app databases are being created: the dedicated container is still starting.
        for (let i = 0; (await appDatabases()).length < 2; i++) {
            if (i > 1200) throw new Error("the up created no database in 120 s");
            await new Promise((r) => setTimeout(r, 100));
        }
        up.kill("SIGKILL");
        // The plugins outlive the CLI and finish what they started.
        await new Promise((r) => setTimeout(r, 15_000));
        expect(pendingOperations().length).toBeGreaterThan(0);
        // What the plain next `up` says: the stack is locked.
        const locked = stack.cli("up", "--yes", "--skip-preview");
        expect(locked.status).not.toBe(0);
        expect(locked.stderr).toContain("the stack is currently locked");

        const look = stack.script("recover.sh");
        console.log(look.stderr);
        expect(look.status, look.stderr).toBe(1);
        expect(look.stderr).toContain(`${stack.stack.name} is locked by an update that is gone (pid ${up.pid} on `);
        expect(look.stderr).toMatch(/has \d+ pending operations from an update that did not finish/);
        expect(look.stderr).toContain(`pulumi cancel --stack ${stack.stack.name} --yes`);
        expect(look.stderr).toContain(`pulumi up --stack ${stack.stack.name} --yes`);
        expect(look.stderr).toContain("run again with --yes to do exactly that");
        // Looking changed nothing.
        expect(stack.cli("up", "--yes", "--skip-preview").stderr).toContain("the stack is currently locked");

        const fix = stack.script("recover.sh", "--yes");
        expect(fix.status, `${fix.stdout}\n${fix.stderr}`).toBe(0);
        expect(fix.stderr).toContain(`${stack.stack.name} recovered: no lock, no pending operations`);
        expect(pendingOperations()).toEqual([]);

        const outputs = await stack.outputs();
        const apps = outputs.apps as Record<string, { runtimeUrl: string; migrateUrl: string }>;
        for (const app of [...SHARED, "solo"]) {
            expect(await queryUrl(apps[app].runtimeUrl, "SELECT current_user AS u")).toEqual([{ u: `${app}_app` }]);
            expect(await queryUrl(apps[app].migrateUrl, "SELECT current_user AS u")).toEqual([{ u: `${app}_migrate` }]);
        }
        // Nothing orphaned: the server holds exactly the stack's shared apps, the engine one container of it.
        expect(await appDatabases()).toEqual(SHARED);
        expect(await appRoles()).toEqual(SHARED.flatMap((a) => [`${a}_app`, `${a}_migrate`]).sort());
        const containers = docker(
            "ps",
            "-a",
            "--filter",
            `label=app-databases.stack=${stack.stack.name}`,
            "--format",
            "{{.Names}} {{.State}}",
        );
        expect(containers).toBe(`app-databases-${stack.stack.name}-solo-db running`);

        const again = stack.cli("preview", "--expect-no-changes");
        expect(again.status, again.stdout + again.stderr).toBe(0);
        expect(again.stdout).not.toContain("pending operations");
        // Nothing left to do is said so.
        const after = stack.script("recover.sh");
        expect(after.status).toBe(0);
        expect(after.stderr).toContain("no pending operations and no stale lock: nothing to recover");
    });
});
