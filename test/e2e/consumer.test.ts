/**
 * examples/consumer, for real: an app-databases stack with one app on a
 * throwaway cluster, then the consumer program as a second stack on the same
 * file backend (same passphrase), reading it through a StackReference. What it
 * renders must connect, agree with itself, and stay encrypted in its state.
 */
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { passwordOf, queryUrl, TestCluster } from "../kit/postgres";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const CONSUMER_DIR = path.join(PROJECT_ROOT, "examples", "consumer");
const CONSUMER_PROJECT = "app-databases-consumer";
const APP = "orders";

/** The consumer program as a second stack: a temp copy, the root's node_modules, the app stack's backend and passphrase. */
class ConsumerStack {
    private constructor(
        readonly stack: Stack,
        readonly dir: string,
        private readonly backendDir: string,
    ) {}

    static async create(source: TestStack, config: Record<string, string>): Promise<ConsumerStack> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-consumer-"));
        for (const entry of ["Pulumi.yaml", "package.json", "index.ts", "tsconfig.json"])
            fs.copyFileSync(path.join(CONSUMER_DIR, entry), path.join(dir, entry));
        fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
        const ws = await LocalWorkspace.create({
            workDir: dir,
            envVars: {
                PULUMI_BACKEND_URL: `file://${source.backendDir}`,
                PULUMI_CONFIG_PASSPHRASE: source.passphrase,
                PULUMI_SKIP_UPDATE_CHECK: "true",
                PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            },
        });
        const stack = await Stack.create(`consumer-${randomBytes(3).toString("hex")}`, ws);
        for (const [key, value] of Object.entries(config)) await stack.setConfig(`${CONSUMER_PROJECT}:${key}`, { value });
        return new ConsumerStack(stack, dir, source.backendDir);
    }

    async outputs(): Promise<Record<string, { value: any; secret: boolean }>> {
        return await this.stack.outputs();
    }

    stateFile(): string {
        return fs.readFileSync(path.join(this.backendDir, ".pulumi", "stacks", CONSUMER_PROJECT, `${this.stack.name}.json`), "utf8");
    }

    async dispose(): Promise<void> {
        try {
            await this.stack.destroy({ onOutput: () => undefined });
            await this.stack.workspace.removeStack(this.stack.name);
        } finally {
            fs.rmSync(this.dir, { recursive: true, force: true });
        }
    }
}

/** The `KEY=value` lines of an env file (values unquoted as Compose does for single quotes). */
function parseEnvFile(text: string): Record<string, string> {
    const env: Record<string, string> = {};
    for (const line of text.split("\n")) {
        if (!line.trim() || line.startsWith("#")) continue;
        const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
        if (!m) throw new Error(`not an env line: ${line}`);
        env[m[1]] = /^'.*'$/.test(m[2]) ? m[2].slice(1, -1) : m[2];
    }
    return env;
}

const cluster = new TestCluster();
let databases: TestStack;
let consumer: ConsumerStack;
let appOutputs: { runtimeUrl: string; migrateUrl: string };
let out: Record<string, { value: any; secret: boolean }>;
let envFilePath: string;

beforeAll(async () => {
    await cluster.start();
    databases = await TestStack.create({
        config: {
            servers: {
                local: { host: "127.0.0.1", port: cluster.port, sslmode: "disable", admin: { username: "postgres", superuser: true } },
            },
            apps: { [APP]: { access: "readwrite", connectionLimit: 3 } },
        },
        secrets: [{ path: "servers.local.admin.password", value: cluster.adminPassword }],
    });
    await databases.stack.up({ onOutput: (s) => process.stdout.write(s) });
    appOutputs = (await databases.outputs()).apps[APP];

    envFilePath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-envfile-")), "orders.env");
    consumer = await ConsumerStack.create(databases, {
        // A file backend names stacks organization/<project>/<stack>.
        source: `organization/app-databases/${databases.stack.name}`,
        app: APP,
        envFilePath,
        namespace: "shop",
    });
    await consumer.stack.up({ onOutput: (s) => process.stdout.write(s) });
    out = await consumer.outputs();
});

afterAll(async () => {
    // The consumer first: disposing the app stack deletes the shared backend dir.
    await consumer?.dispose();
    await databases?.dispose();
    await cluster.stop();
    if (envFilePath) fs.rmSync(path.dirname(envFilePath), { recursive: true, force: true });
});

describe("the consumer example, against a real app-databases stack", () => {
    it("exports the env file and the Kubernetes Secret as secret outputs", () => {
        expect(out.envFile?.secret).toBe(true);
        expect(out.kubernetesSecret?.secret).toBe(true);
        expect(out.kubernetesSecretName).toEqual({ value: `${APP}-database`, secret: false });
    });

    it("renders an env file whose DATABASE_URL and PG* variables connect as the runtime role", async () => {
        const env = parseEnvFile(out.envFile.value);
        const keys = Object.keys(env);
        expect(keys.slice(0, 6)).toEqual(["DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD"]);
        // The URL's sslmode and connect_timeout, for clients that read only PG* variables.
        expect(keys.slice(6)).toEqual(["PGSSLMODE", "PGCONNECT_TIMEOUT"]);
        expect(env.DATABASE_URL).toBe(appOutputs.runtimeUrl);
        expect(env).toMatchObject({
            PGHOST: "127.0.0.1",
            PGPORT: String(cluster.port),
            PGDATABASE: APP,
            PGUSER: `${APP}_app`,
            PGPASSWORD: passwordOf(appOutputs.runtimeUrl),
            PGSSLMODE: "disable",
            PGCONNECT_TIMEOUT: new URL(appOutputs.runtimeUrl).searchParams.get("connect_timeout"),
        });
        const [row] = await queryUrl(env.DATABASE_URL, "SELECT current_user AS who, current_database() AS db");
        expect(row).toEqual({ who: `${APP}_app`, db: APP });
        // The libpq variables alone reach the same place (pg reads PG*-style settings as a config object here).
        const viaParts = `postgresql://${encodeURIComponent(env.PGUSER)}:${encodeURIComponent(env.PGPASSWORD)}@${env.PGHOST}:${env.PGPORT}/${env.PGDATABASE}`;
        expect(await queryUrl(viaParts, "SELECT current_user AS who")).toEqual([{ who: `${APP}_app` }]);
    });

    it("writes the env file to envFilePath, readable by its owner only", () => {
        expect(out.envFileWritten?.value).toBe(envFilePath);
        expect(fs.readFileSync(envFilePath, "utf8")).toBe(out.envFile.value);
        expect(fs.statSync(envFilePath).mode & 0o777).toBe(0o600);
    });

    it("renders a Kubernetes Secret manifest named <app>-database that carries the same URL", () => {
        const manifest: string = out.kubernetesSecret.value;
        // Plain block YAML, every value a JSON (= YAML double-quoted) string: parse it line by line.
        const top = Object.fromEntries([...manifest.matchAll(/^([A-Za-z]+):(?: (.*))?$/gm)].map((m) => [m[1], m[2] ?? null]));
        expect(top).toEqual({ apiVersion: "v1", kind: "Secret", metadata: null, type: "Opaque", stringData: null });
        const block = (name: string) => {
            const body = new RegExp(`^${name}:\\n((?:  .*\\n?)*)`, "m").exec(manifest)?.[1] ?? "";
            return Object.fromEntries([...body.matchAll(/^ {2}([\w.-]+): (".*")$/gm)].map((m) => [m[1], JSON.parse(m[2]) as string]));
        };
        expect(block("metadata")).toEqual({ name: `${APP}-database`, namespace: "shop" });
        const data = block("stringData");
        expect(data.DATABASE_URL).toBe(appOutputs.runtimeUrl);
        expect(data).toMatchObject({ PGUSER: `${APP}_app`, PGDATABASE: APP, PGPASSWORD: passwordOf(appOutputs.runtimeUrl) });
        // Every line is accounted for: nothing the line parser above would have skipped.
        for (const line of manifest.trimEnd().split("\n")) expect(line).toMatch(/^(\w+:( \S.*)?| {2}[\w.-]+:( ".*")?| {4}[\w./-]+: ".*")$/);
    });

    it("keeps the passwords out of its state file", () => {
        const state = consumer.stateFile();
        expect(state).toContain("ciphertext");
        for (const pw of [passwordOf(appOutputs.runtimeUrl), passwordOf(appOutputs.migrateUrl), cluster.adminPassword]) {
            expect(state.includes(pw), "password in the consumer's state file").toBe(false);
            expect(state.includes(encodeURIComponent(pw)), "encoded password in the consumer's state file").toBe(false);
        }
    });

    it("changes nothing on a second up", async () => {
        const up = await consumer.stack.up({ onOutput: () => undefined });
        expect(Object.keys(up.summary.resourceChanges ?? {}).filter((k) => k !== "same")).toEqual([]);
        expect((await consumer.outputs()).envFile.value).toBe(out.envFile.value);
    });
});
