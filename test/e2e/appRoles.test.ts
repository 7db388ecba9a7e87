/**
 * An app's login roles, made by its DatabaseAccess with the database (one
 * resource per app), on a real server: the roles carry where they come from,
 * USAGE on the app's own schema is granted and read back (drift is undone),
 * a role's attributes changed behind the stack's back show on refresh, and an
 * extra role that goes is dropped after everything in the database was taken
 * from it: a table it made stays, now the migrate role's, and a grant the
 * app's migrations gave it no longer stops DROP ROLE.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryUrl, TestCluster } from "../kit/postgres";
import { TestStack } from "../kit/stack";

const cluster = new TestCluster();
let stack: TestStack;

const EXTRAS = {
    atlas_ro: { access: "readonly", connectionLimit: 1 },
    atlas_ops: { access: "readwrite", connectionLimit: 1, runsMigrations: true },
};

function config(extraRoles: Record<string, unknown>) {
    return {
        servers: { local: cluster.serverConfig() },
        apps: { atlas: { connectionLimit: 2, schemas: ["public", "geo"], extraRoles } },
    };
}
const secrets = () => [{ path: "servers.local.admin.password", value: cluster.adminPassword }];

let urls: Record<string, any>;

beforeAll(async () => {
    await cluster.start();
    stack = await TestStack.create({ config: config(EXTRAS), secrets: secrets() });
    await stack.stack.up({ onOutput: () => undefined });
    urls = (await stack.outputs()).apps.atlas;
    await queryUrl(
        urls.migrateUrl,
        "CREATE TABLE geo.places (id serial PRIMARY KEY, name text); INSERT INTO geo.places (name) VALUES ('harbour')",
    );
});

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
});

describe("an app's roles made by its DatabaseAccess", () => {
    it("makes every role in the one resource, each saying where it comes from, with USAGE on the app's own schema", async () => {
        const state = JSON.parse(stack.stateFile()).checkpoint.latest.resources as { type: string }[];
        const types = state.map((r) => r.type).filter((t) => !t.startsWith("pulumi:providers:"));
        expect(types.filter((t) => t.endsWith(":ManagedRoles") || t.endsWith(":RolePair"))).toEqual([]);
        const comments = await cluster.admin<{ rolname: string; comment: string }>(
            "SELECT rolname, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname LIKE 'atlas%' ORDER BY 1",
        );
        expect(comments).toEqual(
            ["atlas_app", "atlas_migrate", "atlas_ops", "atlas_ro"].map((rolname) => ({
                rolname,
                // The stack's mark: another stack's budget counts the role as this stack's (roleBudgetLock.ts).
                comment: `app-databases stack app-databases/${stack.stack.name}: login role of database atlas`,
            })),
        );
        expect(await queryUrl(urls.runtimeUrl, "SELECT name FROM places")).toEqual([{ name: "harbour" }]);
        expect(await queryUrl(urls.extraRoleUrls.atlas_ro, "SELECT name FROM places")).toEqual([{ name: "harbour" }]);
        await expect(queryUrl(urls.extraRoleUrls.atlas_ro, "INSERT INTO places (name) VALUES ('no')")).rejects.toThrow(/permission denied/);
    });

    it("sees USAGE revoked and a limit changed behind its back on refresh, and puts them back", async () => {
        await cluster.admin("REVOKE USAGE ON SCHEMA geo FROM atlas_ro", [], "atlas");
        await cluster.admin("ALTER ROLE atlas_app CONNECTION LIMIT 40");
        await expect(queryUrl(urls.extraRoleUrls.atlas_ro, "SELECT name FROM geo.places")).rejects.toThrow(/permission denied/);
        expect(stack.refreshedPlan()).toEqual(["update atlas@local-access"]);
        await stack.stack.up({ refresh: true, onOutput: () => undefined });
        expect(await queryUrl(urls.extraRoleUrls.atlas_ro, "SELECT name FROM places")).toEqual([{ name: "harbour" }]);
        expect(await cluster.admin("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'atlas_app'")).toEqual([{ rolconnlimit: 2 }]);
        expect(stack.refreshedPlan()).toEqual([]);
        // Nobody's password changed.
        expect((await stack.outputs()).apps.atlas).toEqual(urls);
    });

    it("drops an extra role that goes, keeping the table it made and the grants others have", async () => {
        // The ops role makes a table as itself; the app's migrations grant the read-only role on it.
        await queryUrl(urls.extraRoleUrls.atlas_ops, "CREATE TABLE geo.routes (id int); INSERT INTO geo.routes VALUES (7)");
        await queryUrl(urls.extraRoleUrls.atlas_ops, "GRANT SELECT ON geo.routes TO atlas_ro, atlas_app");
        await stack.setConfig(config({ atlas_ro: EXTRAS.atlas_ro }), secrets());
        const up = await stack.stack.up({ onOutput: () => undefined });
        // Its DatabaseAccess, and the guard's record of the app's roles; nothing created or deleted.
        const { same: _same, ...changes } = up.summary.resourceChanges ?? {};
        expect(changes).toEqual({ update: 2 });
        expect(await cluster.admin("SELECT rolname FROM pg_roles WHERE rolname LIKE 'atlas%' ORDER BY 1")).toEqual(
            ["atlas_app", "atlas_migrate", "atlas_ro"].map((rolname) => ({ rolname })),
        );
        expect(await cluster.admin("SELECT tableowner FROM pg_tables WHERE tablename = 'routes'", [], "atlas")).toEqual([
            { tableowner: "atlas_migrate" },
        ]);
        expect(await queryUrl(urls.runtimeUrl, "SELECT id FROM routes")).toEqual([{ id: 7 }]);
        expect(await queryUrl(urls.extraRoleUrls.atlas_ro, "SELECT id FROM routes")).toEqual([{ id: 7 }]);
        const now = (await stack.outputs()).apps.atlas;
        expect(now.runtimeUrl).toBe(urls.runtimeUrl);
        expect(now.extraRoleUrls).toEqual({ atlas_ro: urls.extraRoleUrls.atlas_ro });
    });

    it("drops the database, then every role, on destroy", async () => {
        await stack.stack.destroy({ onOutput: () => undefined });
        const { roles, databases } = await cluster.catalog();
        expect(roles.filter((r) => r.startsWith("atlas"))).toEqual([]);
        expect(databases).not.toContain("atlas");
    });
});
