/**
 * One server, many stacks (issue 34): two stacks whose budgets each fit the
 * server alone (71 of 100) but not together (131), their `up`s started at the
 * same moment. The preview of each read the server before either applied;
 * the check under the server-wide lock refuses one of them, and the server
 * never holds more CONNECTION LIMITs than the budget allows. The refused
 * stack's preview then counts the other's roles as that stack's, and tells it
 * to lower its own.
 */
import { Client } from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TestCluster } from "../kit/postgres";
import { TestStack } from "../kit/stack";

const ROUNDS = Number(process.env.APP_DATABASES_TWO_STACK_ROUNDS ?? 10);
const MAX = 100;
/** 2+1 provisioning, 3 reserved, 5 admin headroom. */
const FIXED = 11;

const cluster = new TestCluster({ maxConnections: MAX });
const secrets = () => [{ path: "servers.local.admin.password", value: cluster.adminPassword }];
/** Two apps of 28 + 2 (migrate): 60 of role limits, 71 with the fixed share. */
const config = (first: string, second: string) => ({
    servers: { local: cluster.serverConfig({ maxConnections: MAX }) },
    apps: { [first]: { connectionLimit: 28 }, [second]: { connectionLimit: 28 } },
});
const stacks: Record<string, TestStack> = {};
const ROLES: Record<string, string[]> = {
    a: ["alpha_app", "alpha_migrate", "apple_app", "apple_migrate"],
    b: ["bravo_app", "bravo_migrate", "banana_app", "banana_migrate"],
};

beforeAll(async () => {
    await cluster.start();
    stacks.a = await TestStack.create({ config: config("alpha", "apple"), secrets: secrets() });
    stacks.b = await TestStack.create({ config: config("bravo", "banana"), secrets: secrets() });
});

afterAll(async () => {
    await stacks.a?.dispose();
    await stacks.b?.dispose();
    await cluster.stop();
});

/** What the server's login roles' CONNECTION LIMITs add up to, with the fixed share. */
async function serverTotal(): Promise<number> {
    const [row] = await cluster.admin<{ n: number }>(
        "SELECT coalesce(sum(rolconnlimit), 0)::int AS n FROM pg_roles WHERE rolcanlogin AND NOT rolsuper AND rolconnlimit >= 0",
    );
    return row.n + FIXED;
}

it("each stack fits alone", async () => {
    for (const key of ["a", "b"]) {
        await stacks[key].stack.preview({ onOutput: () => undefined });
    }
});

it(`two ups started together: one is refused under the lock, the server stays in budget (${ROUNDS} rounds)`, async () => {
    const timings: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
        const started = Date.now();
        const outputs: Record<string, string> = { a: "", b: "" };
        const results = await Promise.allSettled(["a", "b"].map((key) => stacks[key].stack.up({ onOutput: (s) => (outputs[key] += s) })));
        const took = Date.now() - started;
        expect(await serverTotal()).toBeLessThanOrEqual(MAX);
        const refused = ["a", "b"].filter((_, i) => results[i].status === "rejected");
        expect(refused, `round ${round}: exactly one up is refused`).toHaveLength(1);
        const loser = refused[0];
        const winner = loser === "a" ? "b" : "a";
        const winnerStack = `app-databases/${stacks[winner].stack.name}`;
        const message = outputs[loser] + String((results[loser === "a" ? 0 : 1] as PromiseRejectedResult).reason);
        // Refused under the lock (both previews had passed), or by its preview when the other had applied already.
        const underLock = /refusing to create [a-z_]+ \(CONNECTION LIMIT \d+\)/.test(message);
        if (underLock) {
            expect(message).toMatch(
                /under the connection budget lock the server's CONNECTION LIMITs with this stack's plan \(60\) come to \d+ of max_connections 100 \(OVER BUDGET by \d+\)\. Another stack or a hand-made role took the room since the preview: /,
            );
            expect(message).toContain(`(stack ${winnerStack})`);
        } else {
            expect(message).toMatch(/Connection budget for server local: 131 of max_connections 100 \(OVER BUDGET by 31\)/);
        }
        if (round === 1) console.log(message.slice(message.indexOf("server local:")).split("\n")[0]);
        // Every role of the winner was made.
        const made = await cluster.admin<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])", [
            ROLES[winner],
        ]);
        expect(made.map((r) => r.rolname).sort()).toEqual([...ROLES[winner]].sort());

        // The refused stack's preview names the winner's roles as another stack's, and advises lowering its own.
        let preview = "";
        await expect(stacks[loser].stack.preview({ onOutput: (s) => (preview += s) })).rejects.toThrow();
        if (round === 1) console.log(preview.slice(preview.indexOf("Connection budget")));
        expect(preview).toContain("Connection budget for server local: 131 of max_connections 100 (OVER BUDGET by 31)");
        for (const role of ROLES[winner]) {
            expect(preview).toMatch(new RegExp(`${role}\\s+another stack\\s+\\d+\\s+[\\d.]+%\\s+managed by stack ${winnerStack}`));
        }
        const advice = preview.slice(preview.indexOf("What to do:"));
        const ownPart = advice.slice(0, advice.indexOf("or raise max_connections"));
        expect(ownPart).toMatch(/by lowering this stack's own /);
        for (const role of ROLES[winner]) expect(ownPart).not.toContain(role);
        expect(advice).toContain(`belong to stack ${winnerStack}: lower those in that stack, not here`);
        timings.push(
            `round ${round}: ${loser} refused ${underLock ? "under the lock" : "by its preview"}, ups ${(took / 1000).toFixed(1)} s`,
        );

        // Next round from an empty server.
        for (const key of ["a", "b"]) await stacks[key].stack.destroy({ onOutput: () => undefined });
        expect(await serverTotal()).toBe(FIXED);
    }
    console.log(timings.join("\n"));
});

it("a stack waits for the lock another session holds, and fails cleanly naming the holder when it is not released", async () => {
    const holder = new Client({ ...cluster.clientConfig("postgres", cluster.adminPassword), application_name: "hand-held lock" });
    await holder.connect();
    try {
        const [{ pid }] = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows;
        const hold = async () => {
            await holder.query("BEGIN");
            await holder.query("SELECT pg_advisory_xact_lock(hashtext('app-databases'))");
        };
        // Released after a few seconds: the up waits and goes on.
        await hold();
        const release = new Promise((resolve) => setTimeout(resolve, 5000)).then(() => holder.query("ROLLBACK"));
        const started = Date.now();
        await stacks.a.stack.up({ onOutput: () => undefined });
        await release;
        expect(Date.now() - started).toBeGreaterThan(5000);
        await stacks.a.stack.destroy({ onOutput: () => undefined });

        // Held throughout: refused after lock_timeout, nothing made.
        await hold();
        let output = "";
        await expect(stacks.a.stack.up({ onOutput: (s) => (output += s) })).rejects.toThrow();
        expect(output).toContain(
            `server local: the connection budget lock is held by pid ${pid} (application_name 'hand-held lock', user postgres) for more than 30 s`,
        );
        expect(output).toContain("nothing was changed: run the up again once it has finished");
        await holder.query("ROLLBACK");
        expect(await serverTotal()).toBe(FIXED);
    } finally {
        await holder.end();
    }
});
