/**
 * RolePair used alone, from another program, for real: its RoleSettings
 * resource sets idle_session_timeout on the runtime role (the provider's Role
 * cannot), changes it in place, and leaves nothing behind on destroy.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TestCluster } from "../kit/postgres";
import { TestStack } from "../kit/stack";

const PROGRAM = `
import * as pulumi from "@pulumi/pulumi";
import { RolePair, SharedServer } from "app-databases";

const config = new pulumi.Config();
const server = new SharedServer("postgres", {
    host: "127.0.0.1",
    port: config.requireNumber("port"),
    sslmode: "disable",
    adminUsername: "postgres",
    adminPassword: config.requireSecret("adminPassword"),
    adminSuperuser: true,
});
const pair = new RolePair(
    "orders",
    { app: "orders", connection: server.connection, idleSessionTimeoutMs: config.requireNumber("idleSessionTimeoutMs") },
    { providers: [server.provider] },
);
export const runtimeUser = pair.runtimeUser;
`;

const cluster = new TestCluster();
let stack: TestStack;
let programDir: string;

/** The role-wide settings of `role`, as the server holds them. */
async function settingsOf(role: string): Promise<string[]> {
    const rows = await cluster.admin<{ setconfig: string[] | null }>(
        `SELECT s.setconfig FROM pg_roles r
           LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = 0
          WHERE r.rolname = $1`,
        [role],
    );
    return rows[0]?.setconfig ?? [];
}

const config = (idleSessionTimeoutMs: number) => ({ port: cluster.port, idleSessionTimeoutMs });

beforeAll(async () => {
    await cluster.start();
    programDir = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-role-pair-"));
    fs.writeFileSync(path.join(programDir, "index.ts"), PROGRAM);
    fs.writeFileSync(
        path.join(programDir, "Pulumi.yaml"),
        "name: role-pair\nmain: index.ts\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n",
    );
    fs.writeFileSync(path.join(programDir, "package.json"), JSON.stringify({ name: "role-pair", private: true }));
    stack = await TestStack.create({
        program: { dir: programDir, project: "role-pair" },
        config: config(600_000),
        secrets: [{ path: "adminPassword", value: cluster.adminPassword }],
    });
});

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
    if (programDir) fs.rmSync(programDir, { recursive: true, force: true });
});

it("sets idle_session_timeout on the runtime role, changes it in place, and removes the roles on destroy", async () => {
    await stack.stack.up({ onOutput: () => undefined });
    expect(await settingsOf("orders_app")).toContain("idle_session_timeout=600000");
    expect(await settingsOf("orders_migrate")).toEqual([]);

    await stack.setConfig(config(1000), [{ path: "adminPassword", value: cluster.adminPassword }]);
    const change = await stack.stack.up({ onOutput: () => undefined });
    expect(change.summary.resourceChanges).toMatchObject({ update: 1 });
    expect(await settingsOf("orders_app")).toContain("idle_session_timeout=1000");

    const again = await stack.stack.preview({ onOutput: () => undefined });
    expect(Object.keys(again.changeSummary)).toEqual(["same"]);

    await stack.stack.destroy({ onOutput: () => undefined });
    expect(await cluster.catalog()).toEqual({ roles: [], databases: [] });
});
