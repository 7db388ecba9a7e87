/**
 * Removing several apps from one shared server in a single `up` (a dev stack,
 * so removal deletes): the run must finish, drop exactly the removed apps'
 * databases and roles, and leave the others working. A changed database name
 * is refused before anything is applied.
 *
 * This once hung forever: the provider's DROP DATABASE holds an advisory-lock
 * transaction and needs a second pooled connection, so two drops running at
 * once exhausted its two-connection pool.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryUrl, TestCluster } from "../kit/postgres";
import { TestStack } from "../kit/stack";

const cluster = new TestCluster();
let stack: TestStack;

const ALL = ["app_a", "app_b", "app_c", "app_d", "app_e", "app_f", "app_g", "app_h", "app_i", "app_j"];
// Non-neighbours in name order, so no chain of creation order links them.
const KEPT = ["app_b", "app_e", "app_i"];

function config(apps: readonly string[]) {
    return {
        servers: {
            local: { host: "127.0.0.1", port: cluster.port, sslmode: "disable", admin: { username: "postgres", superuser: true } },
        },
        apps: Object.fromEntries(apps.map((a) => [a, { access: "readwrite", connectionLimit: 2 }])),
    };
}

const secrets = () => [{ path: "servers.local.admin.password", value: cluster.adminPassword }];

/** What the provisioning sessions are waiting on, for the failure message of a stuck run. */
async function waits(): Promise<string> {
    const rows = await cluster.admin<{ usename: string; state: string; wait: string; query: string }>(
        "SELECT usename, state, coalesce(wait_event_type || ':' || wait_event, '') AS wait, left(query, 80) AS query " +
            "FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    );
    return rows.map((r) => `${r.usename} ${r.state} ${r.wait} ${r.query}`).join("\n");
}

/** Rejects with the server's view of the sessions if `run` takes longer than `seconds`. */
async function within<T>(seconds: number, run: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
            void waits().then((w) => reject(new Error(`up still running after ${seconds} s; sessions:\n${w}`)));
        }, seconds * 1000);
    });
    try {
        return await Promise.race([run, stuck]);
    } finally {
        clearTimeout(timer);
    }
}

beforeAll(async () => {
    await cluster.start();
    stack = await TestStack.create({ config: config(ALL), secrets: secrets() });
    await stack.stack.up({ onOutput: () => undefined });
});

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
});

describe("removing several apps at once", () => {
    it("drops exactly the removed apps' databases and roles in one up, and the rest keep working", async () => {
        const before = await stack.outputs();
        await stack.setConfig(config(KEPT), secrets());
        await within(120, stack.stack.up({ onOutput: () => undefined }));

        const { roles, databases } = await cluster.catalog();
        expect(databases).toEqual(KEPT);
        expect(roles).toEqual(KEPT.flatMap((a) => [`${a}_migrate`, `${a}_app`]).sort());
        for (const app of KEPT) {
            const rows = await queryUrl<{ db: string }>(before.apps[app].runtimeUrl, "SELECT current_database() AS db");
            expect(rows[0].db).toBe(app);
        }
    }, 400_000);

    it("refuses to rename an app's database before anything is applied, and says how to keep it", async () => {
        const before = await cluster.catalog();
        const renamed = config(KEPT);
        (renamed.apps.app_b as Record<string, unknown>).database = "app_b_v2";
        await stack.setConfig(renamed, secrets());
        const preview = stack.cli("preview", "--non-interactive");
        expect(preview.status).not.toBe(0);
        expect(preview.stdout + preview.stderr).toContain(
            "apps.app_b.database changes from app_b to app_b_v2 on local: renaming an app's database is not supported",
        );
        await expect(stack.stack.up({ onOutput: () => undefined })).rejects.toThrow(/Set apps.app_b.database: app_b to keep it/);
        expect(await cluster.catalog()).toEqual(before);
        await stack.setConfig(config(KEPT), secrets());
    });

    it("refuses an up whose stack file has no apps key at all, and applies nothing", async () => {
        // A stack file that lost its apps (the wrong file, a failed import) is not a request to drop
        // every database: Pulumi.yaml declares apps without a default, so the engine asks for it first.
        const before = await cluster.catalog();
        const { apps: _gone, ...withoutApps } = config(KEPT);
        await stack.setConfig(withoutApps, secrets());
        const up = stack.cli("up", "--yes", "--non-interactive");
        expect(up.status, up.stdout + up.stderr).not.toBe(0);
        expect(up.stdout + up.stderr).toMatch(/missing configuration value 'apps'/);
        expect(await cluster.catalog()).toEqual(before);
        await stack.setConfig(config(KEPT), secrets());
    });

    it("removes the last apps when `apps:` is left empty in the stack file", async () => {
        // What a user leaves after deleting the last app's lines: `app-databases:apps:` with nothing under it (null).
        await stack.setConfig({ ...config([]), apps: null }, secrets());
        const up = stack.cli("up", "--yes", "--non-interactive");
        expect(up.status, up.stdout + up.stderr).toBe(0);
        expect(up.stdout + up.stderr).not.toContain("must be of type");
        const { roles, databases } = await cluster.catalog();
        expect(databases).toEqual([]);
        expect(roles).toEqual([]);
        expect((await stack.outputs()).apps).toEqual({});
    }, 400_000);
});
