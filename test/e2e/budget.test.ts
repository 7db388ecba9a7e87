/**
 * A plan that does not fit the server's connection budget fails the preview
 * of the real program, with the budget table, and leaves the server untouched.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { TestCluster } from "../kit/postgres";
import { TestStack } from "../kit/stack";

const cluster = new TestCluster({ maxConnections: 30 });
let stack: TestStack;

beforeAll(async () => {
    await cluster.start();
    stack = await TestStack.create({
        config: {
            servers: {
                local: {
                    host: "127.0.0.1",
                    port: cluster.port,
                    sslmode: "disable",
                    admin: { username: "postgres", superuser: true },
                    maxConnections: 30,
                    externalRoles: { grafana_ro: 5 },
                },
            },
            apps: { shop: { connectionLimit: 10 }, ledger: { connectionLimit: 6 } },
        },
        secrets: [{ path: "servers.local.admin.password", value: cluster.adminPassword }],
    });
});

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
});

it("fails preview and up with the budget table when the plan does not fit, and applies nothing", async () => {
    const before = await cluster.catalog();
    let output = "";
    // 10+2 + 6+2 + 5 external + 2+1 provisioning + 3 reserved + 5 headroom = 36 > 30
    await expect(stack.stack.preview({ onOutput: (s) => (output += s) })).rejects.toThrow();
    expect(output).toMatch(/Connection budget for server local: 36 of max_connections 30 \(OVER BUDGET by 6\)/);
    expect(output).toMatch(/shop_app\s+app role\s+10/);
    expect(output).toMatch(/grafana_ro\s+external role\s+5/);
    await expect(stack.stack.up({ onOutput: () => undefined })).rejects.toThrow(/OVER BUDGET/);
    expect(await cluster.catalog()).toEqual(before);
});
