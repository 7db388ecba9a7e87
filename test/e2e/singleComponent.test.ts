/**
 * examples/single-component, for real: another program imports AppDatabase
 * from the app-databases package entry point and uses it alone.
 */
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { queryUrl, TestCluster } from "../kit/postgres";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const cluster = new TestCluster();
let stack: TestStack;

beforeAll(async () => {
    await cluster.start();
    stack = await TestStack.create({
        program: { dir: path.join(PROJECT_ROOT, "examples", "single-component"), project: "orders-database" },
        config: { host: "127.0.0.1", port: cluster.port, sslmode: "disable", adminUsername: "postgres", adminSuperuser: true },
        secrets: [{ path: "adminPassword", value: cluster.adminPassword }],
    });
});

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
});

it("declares one AppDatabase from the package entry point, and its URL connects as the runtime role", async () => {
    await stack.stack.up({ onOutput: () => undefined });
    const outputs = await stack.stack.outputs();
    expect(outputs.runtimeUser.value).toBe("orders_app");
    expect(outputs.runtimeUrl.secret).toBe(true);
    expect(await queryUrl(outputs.runtimeUrl.value as string, "SELECT current_user AS u, current_database() AS db")).toEqual([
        { u: "orders_app", db: "orders" },
    ]);
    expect(await cluster.catalog()).toEqual({ roles: ["orders_app", "orders_migrate"], databases: ["orders"] });
});
