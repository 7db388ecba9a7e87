/**
 * The trust promises under faults and bad input, each against a real server:
 * nothing lost, nothing leaked, nothing applied when the input is wrong.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { badInputs, baseConfig } from "../badInputs";
import { freePort, passwordOf, queryUrl, TestCluster, withDatabase } from "../kit/postgres";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const cluster = new TestCluster();
const stacks: TestStack[] = [];

beforeAll(async () => {
    await cluster.start();
});

afterAll(async () => {
    for (const s of stacks) await s.dispose();
    await cluster.stop();
});

function server(extra: Record<string, unknown> = {}) {
    return { host: "127.0.0.1", port: cluster.port, sslmode: "disable", admin: { username: "postgres", superuser: true }, ...extra };
}
const adminSecret = () => [{ path: "servers.local.admin.password", value: cluster.adminPassword }];

async function newStack(config: Record<string, unknown>, secrets = adminSecret()): Promise<TestStack> {
    const stack = await TestStack.create({ config, secrets });
    stacks.push(stack);
    return stack;
}

/** Every generated password in the stack's state, by resource name (and slot, for DatabaseAccess and ManagedRoles). */
function statePasswords(stack: TestStack): Record<string, string> {
    const exported = stack.cli("stack", "export", "--show-secrets");
    expect(exported.status, exported.stderr).toBe(0);
    const resources = JSON.parse(exported.stdout).deployment.resources ?? [];
    const passwords: Record<string, string> = {};
    // --show-secrets exports a secret as { plaintext: <its JSON> }
    const revealed = (value: any) => (typeof value === "string" ? value : JSON.parse(value.plaintext));
    for (const r of resources) {
        const makesRoles = ["ManagedRoles", "DatabaseAccess"].map((t) => `pulumi-nodejs:dynamic/app-databases:${t}`);
        if (makesRoles.includes(r.type) && r.outputs.passwords !== undefined) {
            for (const [slot, pw] of Object.entries(revealed(r.outputs.passwords)))
                passwords[`${r.urn.split("::").pop()}/${slot}`] = pw as string;
        }
        if (r.type === "random:index/randomPassword:RandomPassword") passwords[r.urn.split("::").pop()] = revealed(r.outputs.result);
    }
    return passwords;
}

/** The first top-level key whose value breaks the type Pulumi.yaml declares for it, if any. */
function declaredTypeViolation(config: Record<string, unknown>): string | undefined {
    const declared = (
        load(fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), "utf8")) as { config: Record<string, { type?: string }> }
    ).config;
    const typeOf = (v: unknown) => (Array.isArray(v) ? "array" : typeof v === "number" ? "integer" : typeof v);
    return Object.keys(config).find(
        (key) => declared[key]?.type !== undefined && config[key] !== undefined && typeOf(config[key]) !== declared[key].type,
    );
}

describe("bad input through the real CLI", () => {
    // Two previews at a time (the machines have two cores), each on a stack of its own.
    const idle: TestStack[] = [];
    const waiting: ((stack: TestStack) => void)[] = [];
    const acquire = () => (idle.length > 0 ? Promise.resolve(idle.pop()!) : new Promise<TestStack>((r) => waiting.push(r)));
    const release = (stack: TestStack) => {
        const next = waiting.shift();
        if (next) next(stack);
        else idle.push(stack);
    };
    let catalogBefore: Awaited<ReturnType<TestCluster["catalog"]>>;

    beforeAll(async () => {
        for (let i = 0; i < 2; i++) idle.push(await newStack({ servers: { local: server() } }));
        catalogBefore = await cluster.catalog();
    });

    it.concurrent.for(badInputs)("fails preview before any resource when given %s", async ([, mutate, configPath, message], { expect }) => {
        const config = baseConfig("127.0.0.1", cluster.port);
        mutate(config);
        const admin = config?.servers?.lab?.admin;
        const secrets =
            admin && typeof admin === "object" && typeof admin.password === "string"
                ? [{ path: "servers.lab.admin.password", value: admin.password }]
                : [];
        if (secrets.length > 0) delete admin.password;
        const stack = await acquire();
        let output = "";
        let failure: unknown;
        try {
            await stack.setConfig(config, secrets);
            await stack.stack.preview({ onOutput: (s) => (output += s) });
        } catch (err) {
            failure = err;
        } finally {
            release(stack);
        }
        expect(failure, "the preview must fail").toBeDefined();
        const mistyped = declaredTypeViolation(config);
        if (mistyped) {
            // Pulumi.yaml declares the key's type: the engine refuses it before the program runs.
            expect(String(failure)).toContain(`configuration key '${mistyped}' must be of type`);
            expect(configPath.split(".")[0]).toBe(mistyped);
            expect(await cluster.catalog()).toEqual(catalogBefore);
            return;
        }
        expect(output).toContain("Invalid stack config");
        expect(output).toContain("nothing was applied");
        expect(output).toContain(`${configPath}: `);
        expect(output).toContain(message);
        expect(output).not.toMatch(/\+\s+postgresql:/); // no resource was even planned
        expect(await cluster.catalog()).toEqual(catalogBefore);
    });
});

describe("faults", () => {
    it("fails preview naming host and port when the server is unreachable, and applies nothing", async () => {
        const closed = await freePort();
        const stack = await newStack({ servers: { local: server({ port: closed }) }, apps: { unreach: {} } });
        let output = "";
        await expect(stack.stack.preview({ onOutput: (s) => (output += s) })).rejects.toThrow();
        expect(output).toContain(`Preflight failed; nothing was applied`);
        expect(output).toContain(`server local: cannot connect to PostgreSQL at 127.0.0.1:${closed} as postgres`);
        expect(await cluster.catalog()).toEqual({ roles: [], databases: [] });
    });

    it("fails preview with a clear error when the admin password is wrong, and applies nothing", async () => {
        const stack = await newStack({ servers: { local: server() }, apps: { wrongpw: {} } }, [
            { path: "servers.local.admin.password", value: "not-the-password" },
        ]);
        let output = "";
        await expect(stack.stack.up({ onOutput: (s) => (output += s) })).rejects.toThrow();
        expect(output).toContain(`cannot connect to PostgreSQL at 127.0.0.1:${cluster.port} as postgres: password authentication failed`);
        expect(output).not.toContain("not-the-password");
        expect(await cluster.catalog()).toEqual({ roles: [], databases: [] });
    });

    it("refuses to take over a role that exists but is not managed by the stack, before anything is created", async () => {
        await cluster.admin("CREATE ROLE taken_app LOGIN PASSWORD 'owned-by-someone-else' CONNECTION LIMIT 7");
        const before = await cluster.admin("SELECT rolpassword, rolconnlimit FROM pg_authid WHERE rolname = 'taken_app'");
        const stack = await newStack({ servers: { local: server() }, apps: { taken: {} } });
        await expect(stack.stack.up({ onOutput: () => undefined })).rejects.toThrow(
            /apps\.taken: role taken_app already exists on server local, made outside this stack\.[\s\S]*Adopt it \(apps\.taken\.adopt\.roles\.taken_app:/,
        );
        expect(await cluster.admin("SELECT rolpassword, rolconnlimit FROM pg_authid WHERE rolname = 'taken_app'")).toEqual(before);
        // Not half-applied: the other role and the database were never created.
        expect(await cluster.admin("SELECT count(*)::int AS n FROM pg_roles WHERE rolname = 'taken_migrate'")).toEqual([{ n: 0 }]);
        expect(await cluster.admin("SELECT count(*)::int AS n FROM pg_database WHERE datname = 'taken'")).toEqual([{ n: 0 }]);
        await stack.stack.destroy({ onOutput: () => undefined });
        await cluster.admin("DROP ROLE taken_app");
    });

    it("fails cleanly when the server stops mid-up, then converges without duplicates or new passwords", async () => {
        const apps = { mid_a: {}, mid_b: {}, mid_c: {} };
        const stack = await newStack({ servers: { local: server() }, apps });
        let paused = false;
        const run = stack.stack.up({
            onOutput: (s) => {
                // Stop the server as soon as the first database exists (its DatabaseAccess makes it).
                if (!paused && /DatabaseAccess mid_\w+@local-access created/.test(s)) {
                    paused = true;
                    cluster.pause();
                }
            },
        });
        try {
            await expect(run).rejects.toThrow();
            expect(paused).toBe(true);
        } finally {
            if (paused) cluster.resume();
        }
        const generated = statePasswords(stack);
        expect(Object.keys(generated).length).toBeGreaterThan(0);

        await stack.stack.up({ onOutput: () => undefined });
        const catalog = await cluster.catalog();
        expect(catalog.databases).toEqual(["mid_a", "mid_b", "mid_c"]);
        expect(catalog.roles).toEqual(["mid_a_app", "mid_a_migrate", "mid_b_app", "mid_b_migrate", "mid_c_app", "mid_c_migrate"]);
        const after = statePasswords(stack);
        for (const [name, pw] of Object.entries(generated)) expect(after[name], name).toBe(pw);
        const { apps: out } = await stack.outputs();
        for (const app of Object.keys(apps)) await queryUrl(out[app].runtimeUrl, "SELECT 1");
        await stack.stack.destroy({ onOutput: () => undefined });
    });
});

describe("passwords", () => {
    it("leaves every password unchanged across ten consecutive ups", async () => {
        const stack = await newStack({ servers: { local: server() }, apps: { steady: { extraRoles: { steady_ro: {} } } } });
        await stack.stack.up({ onOutput: () => undefined });
        try {
            const first = statePasswords(stack);
            expect(Object.keys(first).sort()).toEqual([
                "steady@local-access/extra:steady_ro",
                "steady@local-access/migrate",
                "steady@local-access/runtime",
            ]);
            for (let i = 0; i < 10; i++) {
                const up = await stack.stack.up({ onOutput: () => undefined });
                expect(
                    Object.keys(up.summary.resourceChanges ?? {}).filter((k) => k !== "same"),
                    `up #${i + 2}`,
                ).toEqual([]);
            }
            expect(statePasswords(stack)).toEqual(first);
            const { apps } = await stack.outputs();
            expect(passwordOf(apps.steady.runtimeUrl)).toBe(first["steady@local-access/runtime"]);
            await queryUrl(apps.steady.runtimeUrl, "SELECT 1");
        } finally {
            await stack.stack.destroy({ onOutput: () => undefined });
        }
    });
});

describe("production protection", () => {
    it("refuses to drop a removed app or destroy the stack, and retains the data when retired deliberately", async () => {
        const config = (apps: Record<string, unknown>, retiredApps: string[] = []) => ({
            protect: true,
            servers: { local: server() },
            apps,
            retiredApps,
        });
        const stack = await newStack(config({ ledger: {}, books: {} }));
        await stack.stack.up({ onOutput: () => undefined });
        const { apps } = await stack.outputs();
        await queryUrl(apps.ledger.migrateUrl, "CREATE TABLE entries (amount int); INSERT INTO entries VALUES (42)");

        // Removing the app: refused at preview, saying what would be lost.
        await stack.setConfig(config({ books: {} }), adminSecret());
        let output = "";
        await expect(stack.stack.up({ onOutput: (s) => (output += s) })).rejects.toThrow();
        expect(output).toContain("apps.ledger: database ledger on local with all its data, and roles ledger_migrate, ledger_app");
        expect(await queryUrl(apps.ledger.runtimeUrl, "SELECT amount FROM entries")).toEqual([{ amount: 42 }]);

        // Destroying the stack: refused, the databases are protected.
        await expect(stack.stack.destroy({ onOutput: () => undefined })).rejects.toThrow(/protect/);
        expect((await cluster.catalog()).databases).toEqual(expect.arrayContaining(["books", "ledger"]));

        // The refusal names the one command that retires it, and is not preceded by the engine's dump of the config.
        expect(output).toContain(`scripts/retire-apps.sh --stack <stack> ledger`);
        expect(output).not.toMatch(/property apps value/);

        // Deliberately: retire the app with that one command (unprotect all of its resources, then one up);
        // its resources are retained, the data stays and still works, books stays protected.
        await stack.setConfig(config({ books: {} }, ["ledger"]), adminSecret());
        const retire = stack.script("retire-apps.sh", "--yes", "ledger");
        expect(retire.status, retire.stdout + retire.stderr).toBe(0);
        expect(retire.stderr).toMatch(/unprotecting \d+ resources of ledger/);
        expect(await queryUrl(apps.ledger.runtimeUrl, "SELECT amount FROM entries")).toEqual([{ amount: 42 }]);
        expect(Object.keys((await stack.outputs()).apps)).toEqual(["books"]);

        // The retired app's roles stay on the server, known as retired: no preview warns that they are undeclared.
        let preview = "";
        await stack.stack.preview({ onOutput: (s) => (preview += s) });
        expect(preview).not.toMatch(/config does not name: [^\n]*ledger_/);
        // Retiring another app without listing it: the hint adds it at the next free index, never over ledger.
        const unlisted = stack.script("retire-apps.sh", "--yes", "books");
        expect(unlisted.status).toBe(2);
        expect(unlisted.stderr).toContain('add it first: pulumi config set --path "retiredApps[1]" books');

        // books is still protected: destroy refuses again; unprotected, everything is retained, nothing dropped.
        await expect(stack.stack.destroy({ onOutput: () => undefined })).rejects.toThrow(/books@local-access" cannot be deleted/);
        expect(stack.cli("state", "unprotect", "--all", "--yes").status).toBe(0);
        await stack.stack.destroy({ onOutput: () => undefined });
        expect((await cluster.catalog()).databases).toEqual(expect.arrayContaining(["books", "ledger"]));
        for (const db of ["books", "ledger"]) await cluster.admin(`DROP DATABASE ${db}`);
        for (const role of ["books_app", "books_migrate", "ledger_app", "ledger_migrate"]) await cluster.admin(`DROP ROLE ${role}`);
    });
});

describe("shared server hardening", () => {
    it("closes the system databases to PUBLIC, keeps them open to the named roles, and gives them back when turned off", async () => {
        // With a CONNECTION LIMIT: the budget refuses a login role on the server with none.
        await cluster.admin("CREATE ROLE monitor LOGIN PASSWORD 'monitor-pw' CONNECTION LIMIT 3");
        const monitorUrl = `postgresql://monitor:monitor-pw@127.0.0.1:${cluster.port}/postgres`;
        const config = (hardened: boolean) => ({
            servers: { local: server(hardened ? { systemDatabaseAccess: ["monitor"], clientCidrs: ["10.42.0.0/16"] } : {}) },
            apps: { hardy: {} },
        });
        const stack = await newStack(config(true));
        await stack.stack.up({ onOutput: () => undefined });
        const { apps, pgHba } = await stack.outputs();
        for (const db of ["postgres", "template1"]) {
            await expect(queryUrl(withDatabase(apps.hardy.runtimeUrl, db), "SELECT 1")).rejects.toThrow(/permission denied for database/);
            await queryUrl(withDatabase(monitorUrl, db), "SELECT 1");
            await cluster.admin("SELECT 1", [], db);
        }
        expect(pgHba.local).toContain("host    hardy hardy_app     10.42.0.0/16 scram-sha-256");

        await stack.setConfig(config(false), adminSecret());
        await stack.stack.up({ onOutput: () => undefined });
        await queryUrl(withDatabase(apps.hardy.runtimeUrl, "postgres"), "SELECT 1");
        await stack.stack.destroy({ onOutput: () => undefined });
        await cluster.admin("DROP ROLE monitor");
    });
});
