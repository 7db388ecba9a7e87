/**
 * Zero-downtime rotation of the runtime role, on a real server: a bump hands
 * out the other login with a new password while the one in use keeps working
 * (sessions open across the `up` stay up, new ones still log in), until the
 * next bump renews it. Both logins have the same privileges and no more.
 */
import type { BudgetOutput } from "../../program/keyedOutputs";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUrl, passwordOf, queryUrl, TestCluster, withDatabase } from "../kit/postgres";
import { TestStack } from "../kit/stack";

const cluster = new TestCluster();
let stack: TestStack;

function config(rotation: number) {
    return {
        servers: {
            local: { host: "127.0.0.1", port: cluster.port, sslmode: "disable", admin: { username: "postgres", superuser: true } },
        },
        apps: {
            shop: { connectionLimit: 3, idleSessionTimeoutMs: 90_000, rotation: { runtime: rotation, zeroDowntime: true } },
            other: { connectionLimit: 1 },
        },
    };
}
const secrets = () => [{ path: "servers.local.admin.password", value: cluster.adminPassword }];

interface ShopOutputs {
    runtimeUser: string;
    runtimeUrl: string;
    migrateUrl: string;
}

async function upAt(rotation: number): Promise<ShopOutputs> {
    await stack.setConfig(config(rotation), secrets());
    await stack.stack.up({ onOutput: () => undefined });
    return (await stack.outputs()).apps.shop as ShopOutputs;
}

/** Logs in with a URL and returns the user the server says we are; rejects with the server's error. */
async function whoAmI(url: string): Promise<string> {
    const [row] = await queryUrl<{ u: string }>(url, "SELECT current_user AS u");
    return row.u;
}

let first: ShopOutputs;
let openSession: Client;

beforeAll(async () => {
    await cluster.start();
    stack = await TestStack.create({ config: config(0), secrets: secrets() });
    await stack.stack.up({ onOutput: () => undefined });
    first = (await stack.outputs()).apps.shop as ShopOutputs;
    await queryUrl(first.migrateUrl, "CREATE TABLE orders (id serial PRIMARY KEY, item text)");
    openSession = await connectUrl(first.runtimeUrl);
    await openSession.query("INSERT INTO orders (item) VALUES ('before rotation')");
});

afterAll(async () => {
    await openSession?.end().catch(() => undefined);
    await stack?.dispose();
    await cluster.stop();
});

describe("zero-downtime rotation of the runtime role", () => {
    let second: ShopOutputs;

    it("hands out shop_app at rotation 0", () => {
        expect(first.runtimeUser).toBe("shop_app");
    });

    it("on a bump hands out shop_app_alt with a new password, and shop_app keeps working meanwhile", async () => {
        second = await upAt(1);
        expect(second.runtimeUser).toBe("shop_app_alt");
        expect(passwordOf(second.runtimeUrl)).not.toBe(passwordOf(first.runtimeUrl));
        expect(second.migrateUrl).toBe(first.migrateUrl);

        // The session opened before the rotation is still there and still works.
        await openSession.query("INSERT INTO orders (item) VALUES ('during rotation, old session')");
        // New sessions with the previous login and password still log in.
        expect(await whoAmI(first.runtimeUrl)).toBe("shop_app");
        // The new login reads and writes the migrate role's tables through its membership.
        expect(await whoAmI(second.runtimeUrl)).toBe("shop_app_alt");
        await queryUrl(second.runtimeUrl, "INSERT INTO orders (item) VALUES ('new login')");
        const rows = await queryUrl<{ n: string }>(second.runtimeUrl, "SELECT count(*) AS n FROM orders");
        expect(Number(rows[0].n)).toBe(3);
    });

    it("gives the new login the runtime role's limits and timeouts and no more privilege", async () => {
        const [role] = await cluster.admin<Record<string, unknown>>(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolconnlimit, rolconfig::text AS config " +
                "FROM pg_roles WHERE rolname = 'shop_app_alt'",
        );
        expect(role).toMatchObject({
            rolsuper: false,
            rolcreaterole: false,
            rolcreatedb: false,
            rolreplication: false,
            rolbypassrls: false,
            rolconnlimit: 3,
        });
        expect(role.config).toContain("statement_timeout=30000");
        expect(role.config).toContain("idle_session_timeout=90000");
        await expect(queryUrl(second.runtimeUrl, "CREATE TABLE sneaky (id int)")).rejects.toThrow(/permission denied/);
        await expect(whoAmI(withDatabase(second.runtimeUrl, "other"))).rejects.toThrow(/permission denied/);
        // Both logins may hold connections during the changeover: the budget counts both.
        const budget = (await stack.outputs()).budgets.local as BudgetOutput;
        expect(budget.entries.shop_app).toMatchObject({ kind: "app role", connections: 3 });
        expect(budget.entries.shop_app_alt).toMatchObject({ kind: "app role", connections: 3 });
    });

    it("on the next bump renews shop_app and hands it out; the previous password of shop_app stops working, shop_app_alt's goes on", async () => {
        const third = await upAt(2);
        expect(third.runtimeUser).toBe("shop_app");
        expect(passwordOf(third.runtimeUrl)).not.toBe(passwordOf(first.runtimeUrl));
        expect(await whoAmI(third.runtimeUrl)).toBe("shop_app");
        await expect(whoAmI(first.runtimeUrl)).rejects.toThrow(/password authentication failed/);
        expect(await whoAmI(second.runtimeUrl)).toBe("shop_app_alt");
    });

    it("changes nothing on a re-run", async () => {
        const preview = await stack.stack.preview({ onOutput: () => undefined });
        expect(Object.keys(preview.changeSummary).filter((k) => k !== "same")).toEqual([]);
    });
});
