/**
 * The security promises, proven on a real PostgreSQL server with the real
 * Pulumi engine and providers: every assertion connects as the generated roles
 * with the passwords from the stack outputs.
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUrl, NO_ROLE_POWERS, passwordOf, queryUrl, TestCluster, withDatabase } from "../kit/postgres";
import { TestStack } from "../kit/stack";

const cluster = new TestCluster();
let stack: TestStack;
let outputs: Record<string, any>;

function appConfig() {
    return {
        shop: {
            access: "readwrite",
            connectionLimit: 3,
            statementTimeoutMs: 1500,
            idleInTransactionSessionTimeoutMs: 2500,
            idleSessionTimeoutMs: 60000,
            revokeFunctionExecute: true,
        },
        reports: { access: "readonly", connectionLimit: 2 },
        billing: {
            access: "migrations",
            connectionLimit: 2,
            revokeFunctionExecute: true,
            extraRoles: { billing_dashboard: { access: "readonly", connectionLimit: 1 } },
        },
    } as Record<string, any>;
}

function config(apps = appConfig()) {
    return {
        servers: { local: { host: "127.0.0.1", port: cluster.port, sslmode: "disable", admin: { username: "postgres", superuser: true } } },
        apps,
    };
}

const urls = () =>
    outputs.apps as Record<string, { runtimeUrl: string; migrateUrl: string; database: string; extraRoleUrls: Record<string, string> }>;

beforeAll(async () => {
    await cluster.start();
    stack = await TestStack.create({
        config: config(),
        secrets: [{ path: "servers.local.admin.password", value: cluster.adminPassword }],
    });
    await stack.stack.up({ onOutput: (s) => process.stdout.write(s) });
    outputs = await stack.outputs();
});

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
});

describe("a shared server, for real", () => {
    it("lets each runtime role into its own database and refuses it every other app's database", async () => {
        for (const [app, facts] of Object.entries(urls())) {
            const [row] = await queryUrl(facts.runtimeUrl, "SELECT current_user AS who, current_database() AS db");
            expect(row).toEqual({ who: `${app}_app`, db: app });
            for (const [other, otherFacts] of Object.entries(urls())) {
                if (other === app) continue;
                await expect(queryUrl(withDatabase(facts.runtimeUrl, otherFacts.database), "SELECT 1")).rejects.toThrow(
                    new RegExp(`permission denied for database "?${other}"?`),
                );
            }
        }
    });

    it("refuses DDL to the runtime role and allows it to the migrate role", async () => {
        const shop = urls().shop;
        await expect(queryUrl(shop.runtimeUrl, "CREATE TABLE sneaky (id int)")).rejects.toThrow(/permission denied for schema public/);
        await queryUrl(shop.migrateUrl, "CREATE TABLE ddl_probe (id int)");
        await queryUrl(shop.migrateUrl, "DROP TABLE ddl_probe");
    });

    it("with revokeFunctionExecute, lets readwrite roles run new functions and read-only roles not", async () => {
        const { shop, billing } = urls();
        const fn = "CREATE FUNCTION bump() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'";
        await queryUrl(shop.migrateUrl, fn);
        await queryUrl(billing.migrateUrl, fn);
        try {
            expect(await queryUrl(shop.runtimeUrl, "SELECT bump() AS n")).toEqual([{ n: 1 }]);
            await expect(queryUrl(billing.extraRoleUrls.billing_dashboard, "SELECT bump()")).rejects.toThrow(
                /permission denied for function bump/,
            );
            await expect(queryUrl(billing.runtimeUrl, "SELECT bump()")).rejects.toThrow(/permission denied for function bump/);
        } finally {
            await queryUrl(shop.migrateUrl, "DROP FUNCTION bump()");
            await queryUrl(billing.migrateUrl, "DROP FUNCTION bump()");
        }
        // Without the option PUBLIC keeps PostgreSQL's default: reports' read-only runtime role may run its functions.
        await queryUrl(urls().reports.migrateUrl, fn);
        expect(await queryUrl(urls().reports.runtimeUrl, "SELECT bump() AS n")).toEqual([{ n: 1 }]);
        await queryUrl(urls().reports.migrateUrl, "DROP FUNCTION bump()");
    });

    it("gives the runtime role what its access level says on tables the migrate role creates", async () => {
        for (const facts of Object.values(urls())) {
            await queryUrl(
                facts.migrateUrl,
                "CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) VALUES ('seed')",
            );
        }
        // readwrite: read, write, use the sequence
        await queryUrl(urls().shop.runtimeUrl, "INSERT INTO items (name) VALUES ('from app')");
        expect(await queryUrl(urls().shop.runtimeUrl, "SELECT count(*)::int AS n FROM items")).toEqual([{ n: 2 }]);
        await queryUrl(urls().shop.runtimeUrl, "UPDATE items SET name = 'x'; DELETE FROM items WHERE id = 1");
        // readonly: read only
        expect(await queryUrl(urls().reports.runtimeUrl, "SELECT name FROM items")).toEqual([{ name: "seed" }]);
        await expect(queryUrl(urls().reports.runtimeUrl, "INSERT INTO items (name) VALUES ('no')")).rejects.toThrow(
            /permission denied for table items/,
        );
        // migrations: nothing until the app's migrations grant it
        await expect(queryUrl(urls().billing.runtimeUrl, "SELECT * FROM items")).rejects.toThrow(/permission denied for table items/);
        // an extra readonly role on the same database
        expect(await queryUrl(urls().billing.extraRoleUrls.billing_dashboard, "SELECT name FROM items")).toEqual([{ name: "seed" }]);
    });

    it("makes no app role a superuser, role creator, database creator, replicator or RLS bypasser", async () => {
        const roles = await cluster.admin(
            `SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin
               FROM pg_roles WHERE rolname ~ '_(app|migrate|dashboard)$' ORDER BY 1`,
        );
        expect(roles.map((r) => r.rolname)).toEqual([
            "billing_app",
            "billing_dashboard",
            "billing_migrate",
            "reports_app",
            "reports_migrate",
            "shop_app",
            "shop_migrate",
        ]);
        for (const r of roles) {
            expect(r, r.rolname).toMatchObject({ ...NO_ROLE_POWERS, rolcanlogin: true });
        }
    });

    it("lets the server enforce CONNECTION LIMIT: n sessions, and n+1 refused", async () => {
        const url = urls().shop.runtimeUrl; // connectionLimit: 3
        const open: Client[] = [];
        try {
            for (let i = 0; i < 3; i++) open.push(await connectUrl(url));
            await expect(connectUrl(url)).rejects.toThrow(/too many connections for role "shop_app"/);
        } finally {
            await Promise.all(open.map((c) => c.end()));
        }
    });

    it("puts the runtime role's timeouts in effect", async () => {
        const url = urls().shop.runtimeUrl;
        const show = async (name: string) => (await queryUrl(url, `SHOW ${name}`))[0][name];
        expect(await show("statement_timeout")).toBe("1500ms");
        expect(await show("idle_in_transaction_session_timeout")).toBe("2500ms");
        expect(await show("idle_session_timeout")).toBe("1min");
        await expect(queryUrl(url, "SELECT pg_sleep(3)")).rejects.toThrow(/statement timeout/);
        // the migrate role runs long migrations: no statement timeout
        expect((await queryUrl(urls().shop.migrateUrl, "SHOW statement_timeout"))[0].statement_timeout).toBe("0");
    });

    it("changes nothing on a second up or preview, and the passwords still work", async () => {
        const preview = await stack.stack.preview({ onOutput: () => undefined });
        expect(Object.keys(preview.changeSummary).filter((k) => k !== "same")).toEqual([]);
        const up = await stack.stack.up({ onOutput: () => undefined });
        expect(Object.keys(up.summary.resourceChanges ?? {}).filter((k) => k !== "same")).toEqual([]);
        const again = await stack.outputs();
        expect(again.apps).toEqual(outputs.apps);
        for (const facts of Object.values(urls())) await queryUrl(facts.runtimeUrl, "SELECT 1");
    });

    it("rotates one role's password when its rotation value is bumped, and no other", async () => {
        const before = urls();
        const apps = appConfig();
        apps.reports.rotation = { runtime: 1 };
        await stack.setConfig(config(apps), [{ path: "servers.local.admin.password", value: cluster.adminPassword }]);
        await stack.stack.up({ onOutput: () => undefined });
        const after = (await stack.outputs()).apps as ReturnType<typeof urls>;

        expect(passwordOf(after.reports.runtimeUrl)).not.toBe(passwordOf(before.reports.runtimeUrl));
        expect(after.reports.migrateUrl).toBe(before.reports.migrateUrl);
        for (const app of ["shop", "billing"]) {
            expect(after[app].runtimeUrl).toBe(before[app].runtimeUrl);
            expect(after[app].migrateUrl).toBe(before[app].migrateUrl);
        }
        await queryUrl(after.reports.runtimeUrl, "SELECT 1");
        await expect(queryUrl(before.reports.runtimeUrl, "SELECT 1")).rejects.toThrow(/password authentication failed/);
        outputs = await stack.outputs();
    });

    it("keeps every password out of the state file, the plain outputs and the preview", async () => {
        const passwords = [cluster.adminPassword];
        for (const facts of Object.values(urls())) {
            passwords.push(
                passwordOf(facts.runtimeUrl),
                passwordOf(facts.migrateUrl),
                ...Object.values(facts.extraRoleUrls).map(passwordOf),
            );
        }
        expect(passwords.length).toBe(8);
        const state = stack.stateFile();
        const plainOutputs = stack.cli("stack", "output", "--json");
        expect(plainOutputs.status, plainOutputs.stderr).toBe(0);
        let previewText = "";
        await stack.stack.preview({ diff: true, onOutput: (s) => (previewText += s) });
        expect(state).toContain("ciphertext"); // the secrets are there, encrypted
        for (const pw of passwords) {
            expect(state.includes(pw), "password in state file").toBe(false);
            expect(plainOutputs.stdout.includes(pw), "password in stack outputs").toBe(false);
            expect(previewText.includes(pw), "password in preview").toBe(false);
        }
    });

    it("removes everything it made on destroy (dev stack)", async () => {
        expect((await cluster.catalog()).databases).toEqual(["billing", "reports", "shop"]);
        await stack.stack.destroy({ onOutput: () => undefined });
        expect(await cluster.catalog()).toEqual({ roles: [], databases: [] });
    });
});
