/**
 * Several services in one database, as users run them (a tracking service, a
 * billing API, two services that run migrations, a read-only dashboard), on a
 * real server: each role reaches only its own schemas (permission denied on
 * the other's tables), an extension's function in `public` resolves
 * unqualified for every new role (search_path keeps `public`), and what one
 * migrating peer creates is the migrate role's, so the other and every reader
 * get their declared access to it. Narrowing a role's schemas later is an
 * update of the app's DatabaseAccess: no database replaced, no password changed.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryUrl, TestCluster } from "../kit/postgres";
import { TestStack } from "../kit/stack";

const cluster = new TestCluster();
let stack: TestStack;

const limit = { connectionLimit: 2 };
const EXTRAS = {
    billing_api: { ...limit, access: "readwrite", schemas: ["billing"] },
    billing_jobs: { ...limit, access: "readwrite", schemas: ["billing"], runsMigrations: true },
    tracking_jobs: { ...limit, access: "readwrite", schemas: ["tracking"], runsMigrations: true },
    fleet_dash: { ...limit, access: "readonly" },
};

function config(extraRoles: Record<string, unknown>) {
    return {
        servers: { local: cluster.serverConfig() },
        apps: { fleet: { ...limit, schemas: ["tracking", "billing"], runtimeSchemas: ["tracking"], extraRoles } },
    };
}
const secrets = () => [{ path: "servers.local.admin.password", value: cluster.adminPassword }];

let urls: Record<string, any>;
const url = (role: string) => (role === "fleet_app" ? urls.runtimeUrl : urls.extraRoleUrls[role]);
const denied = /permission denied/;

beforeAll(async () => {
    await cluster.start();
    stack = await TestStack.create({ config: config(EXTRAS), secrets: secrets() });
    await stack.stack.up({ onOutput: () => undefined });
    urls = (await stack.outputs()).apps.fleet;
    // pgcrypto where PostgreSQL puts it by default: schema public (Debian's postgresql contrib).
    await cluster.admin("CREATE EXTENSION pgcrypto", [], "fleet");
});

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
});

describe("several services sharing one database", () => {
    it("lets two migrating peers create tables in turn, each owned by the migrate role, with search_path finding their own schema", async () => {
        // Unqualified: each service's search_path starts with its own schema.
        await queryUrl(
            url("billing_jobs"),
            "CREATE TABLE invoices (id serial PRIMARY KEY, total int); INSERT INTO invoices (total) VALUES (5)",
        );
        await queryUrl(url("tracking_jobs"), "CREATE TABLE trips (id serial PRIMARY KEY, km int); INSERT INTO trips (km) VALUES (12)");
        expect(
            await cluster.admin(
                "SELECT schemaname, tablename, tableowner FROM pg_tables WHERE schemaname IN ('billing', 'tracking') ORDER BY 1",
                [],
                "fleet",
            ),
        ).toEqual([
            { schemaname: "billing", tablename: "invoices", tableowner: "fleet_migrate" },
            { schemaname: "tracking", tablename: "trips", tableowner: "fleet_migrate" },
        ]);
        // The login is the service's own (its connection limit counts), the session runs as the migrate role.
        expect(await queryUrl(url("billing_jobs"), "SELECT session_user AS login, current_user AS runs_as")).toEqual([
            { login: "billing_jobs", runs_as: "fleet_migrate" },
        ]);
        // Each migrating peer may alter what the other created.
        await queryUrl(url("tracking_jobs"), "ALTER TABLE billing.invoices ADD COLUMN note text");
        await queryUrl(url("billing_jobs"), "ALTER TABLE tracking.trips ADD COLUMN driver text");
        await queryUrl(url("billing_jobs"), "UPDATE tracking.trips SET driver = 'ana'");
        expect(await queryUrl(url("tracking_jobs"), "SELECT total, note FROM billing.invoices")).toEqual([{ total: 5, note: null }]);
    });

    it("lets each role reach only its own schemas, at its own level", async () => {
        // The runtime role: read/write tracking, nothing in billing.
        await queryUrl(url("fleet_app"), "INSERT INTO trips (km) VALUES (3)");
        expect(await queryUrl(url("fleet_app"), "SELECT km FROM trips ORDER BY id")).toEqual([{ km: 12 }, { km: 3 }]);
        await expect(queryUrl(url("fleet_app"), "SELECT * FROM billing.invoices")).rejects.toThrow(denied);
        // The billing API: read/write billing, nothing in tracking.
        await queryUrl(url("billing_api"), "UPDATE invoices SET total = 6");
        expect(await queryUrl(url("billing_api"), "SELECT total FROM invoices")).toEqual([{ total: 6 }]);
        await expect(queryUrl(url("billing_api"), "SELECT * FROM tracking.trips")).rejects.toThrow(denied);
        await expect(queryUrl(url("billing_api"), "ALTER TABLE invoices ADD COLUMN x int")).rejects.toThrow(/must be owner/);
        // The dashboard: reads both (the app's schemas, its default), writes neither.
        expect(await queryUrl(url("fleet_dash"), "SELECT count(*)::int AS n FROM trips")).toEqual([{ n: 2 }]);
        expect(await queryUrl(url("fleet_dash"), "SELECT total FROM invoices")).toEqual([{ total: 6 }]);
        await expect(queryUrl(url("fleet_dash"), "INSERT INTO invoices (total) VALUES (1)")).rejects.toThrow(denied);
    });

    it("finds pgcrypto's digest() in public, unqualified, as every new role", async () => {
        expect(await queryUrl(url("fleet_app"), "SHOW search_path")).toEqual([{ search_path: "tracking, public" }]);
        for (const role of ["fleet_app", "billing_api", "billing_jobs", "tracking_jobs", "fleet_dash"]) {
            expect(await queryUrl(url(role), "SELECT encode(digest('fleet', 'sha256'), 'hex') AS h")).toEqual([
                { h: createHash("sha256").update("fleet").digest("hex") },
            ]);
        }
        expect(stack.refreshedPlan()).toEqual([]);
    });

    it("narrows a role's schemas in place: an update, no database replaced, no password changed", async () => {
        await stack.setConfig(config({ ...EXTRAS, fleet_dash: { ...EXTRAS.fleet_dash, schemas: ["billing"] } }), secrets());
        const up = await stack.stack.up({ onOutput: () => undefined });
        const { same: _same, ...changes } = up.summary.resourceChanges ?? {};
        expect(changes).toEqual({ update: 1 });
        expect((await stack.outputs()).apps.fleet).toEqual(urls);
        expect(await queryUrl(url("fleet_dash"), "SELECT total FROM invoices")).toEqual([{ total: 6 }]);
        await expect(queryUrl(url("fleet_dash"), "SELECT * FROM tracking.trips")).rejects.toThrow(denied);
        expect(await queryUrl(url("fleet_dash"), "SHOW search_path")).toEqual([{ search_path: "billing, public" }]);
        expect(stack.refreshedPlan()).toEqual([]);
    });
});
