/**
 * The policy pack (policy/) under the real engine, as README "Policies" runs
 * it: `pulumi preview --policy-pack policy`. A prod stack of this program with
 * a plain-text admin connection is stopped by a mandatory violation before
 * anything is applied; the same plan on a dev stack passes; an advisory
 * violation is printed and lets the preview pass; a hand-written
 * @pulumi/postgresql program with a superuser, unbounded login role is
 * stopped naming both.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster } from "../kit/postgres";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const PACK = path.join(PROJECT_ROOT, "policy");

const HAND_WRITTEN = `
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";

const config = new pulumi.Config();
const provider = new postgresql.Provider("server", {
    host: "127.0.0.1",
    port: config.requireNumber("port"),
    username: "postgres",
    password: config.requireSecret("adminPassword"),
    sslmode: "disable",
    superuser: true,
});
new postgresql.Role("ops", { name: "ops", login: true, superuser: true }, { provider });
new postgresql.Role("shop_app", { name: "shop_app", login: true, connectionLimit: 5 }, { provider });
`;

const cluster = new TestCluster();
const stacks: TestStack[] = [];
let programDir: string;
let configFile: string;

const appConfig = () => ({
    servers: { local: cluster.serverConfig() },
    apps: { shop: { server: "local" } },
});
const secrets = () => [{ path: "servers.local.admin.password", value: cluster.adminPassword }];

async function stackOf(stackName: string): Promise<TestStack> {
    const stack = await TestStack.create({ stackName, config: appConfig(), secrets: secrets() });
    stacks.push(stack);
    return stack;
}

const output = (run: { stdout: string; stderr: string }) => `${run.stdout}\n${run.stderr}`;

beforeAll(async () => {
    await cluster.start();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-policy-"));
    configFile = path.join(dir, "policy-config.json");
    fs.writeFileSync(configFile, JSON.stringify({ "budget-headroom": { minHeadroomShare: 0.95 } }));
    programDir = path.join(dir, "program");
    fs.mkdirSync(programDir);
    fs.writeFileSync(path.join(programDir, "index.ts"), HAND_WRITTEN);
    fs.writeFileSync(
        path.join(programDir, "Pulumi.yaml"),
        "name: hand-written\nmain: index.ts\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n",
    );
    fs.writeFileSync(path.join(programDir, "package.json"), JSON.stringify({ name: "hand-written", private: true }));
});

afterAll(async () => {
    await Promise.all(stacks.map((s) => s.dispose()));
    await cluster.stop();
    if (programDir) fs.rmSync(path.dirname(programDir), { recursive: true, force: true });
});

describe("policy pack", () => {
    it("stops a prod stack's preview on a plain-text admin connection, before anything is applied", async () => {
        const stack = await stackOf(`prod-${process.pid}`);
        const run = stack.cli("preview", "--non-interactive", "--policy-pack", PACK);
        expect(run.status).not.toBe(0);
        const text = output(run);
        expect(text).toContain("[mandatory]  verify-full-on-prod");
        expect(text).toContain(
            `the admin connection to server local (127.0.0.1:${cluster.port}) uses sslmode disable; a prod stack needs verify-full: set servers.local.sslmode to verify-full and servers.local.sslrootcert to the CA's certificate`,
        );
        expect(text).toContain("[mandatory]  backups-on-prod");
        expect(text).toContain(
            'the stack has 1 app database (shop) and no backups: set the stack\'s backup block (README "Backups and restores")',
        );
        // `up` with the pack refuses the same way, and nothing reaches the server.
        const up = stack.cli("up", "--yes", "--non-interactive", "--policy-pack", PACK);
        expect(up.status).not.toBe(0);
        expect(output(up)).toContain("verify-full-on-prod");
        expect(await cluster.catalog()).toEqual({ roles: [], databases: [] });
    });

    it("passes the same plan on a dev stack, and prints an advisory violation without failing", async () => {
        const stack = await stackOf(`dev-${process.pid}`);
        const clean = stack.cli("preview", "--non-interactive", "--policy-pack", PACK);
        expect(clean.status, output(clean)).toBe(0);
        expect(output(clean)).not.toContain("[mandatory]");
        expect(output(clean)).not.toContain("[advisory]");

        const strict = stack.cli("preview", "--non-interactive", "--policy-pack", PACK, "--policy-pack-config", configFile);
        expect(strict.status, output(strict)).toBe(0);
        expect(output(strict)).toContain("[advisory]  budget-headroom");
        expect(output(strict)).toMatch(
            /server local keeps \d+ of max_connections 100 free \(\d+(\.\d)?%\), less than the 95% asked \(95\)/,
        );
    });

    it("stops a hand-written @pulumi/postgresql program's superuser, unbounded login role", async () => {
        const stack = await TestStack.create({
            program: { dir: programDir, project: "hand-written" },
            config: { port: cluster.port },
            secrets: [{ path: "adminPassword", value: cluster.adminPassword }],
        });
        stacks.push(stack);
        const run = stack.cli("preview", "--non-interactive", "--policy-pack", PACK);
        expect(run.status).not.toBe(0);
        const text = output(run);
        expect(text).toContain("role ops has SUPERUSER: an app role needs none of them; set superuser to false");
        expect(text).toContain(
            "login role ops has no CONNECTION LIMIT (connectionLimit -1, no limit); set connectionLimit to what it needs",
        );
        expect(text).not.toContain("role shop_app has");
    });
});
