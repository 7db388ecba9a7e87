/**
 * The trust promises on every supported PostgreSQL major version (14 to 18),
 * each a real server from the binaries the test set-up installs, each through
 * a real `pulumi up`. The full shared-server suite runs on the default server
 * (Debian's); this is the focused matrix (PG_VERSIONS=14,18 narrows it).
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUrl, connectUrlFrom, NO_ROLE_POWERS, queryUrl, TestCluster, withDatabase } from "../kit/postgres";
import { matrixVersions } from "../kit/postgresVersions";
import { TestStack } from "../kit/stack";

type AppFacts = { runtimeUrl: string; migrateUrl: string; database: string; extraRoleUrls: Record<string, string> };

/** Every way to create an object in a database, as [what, SQL]; `migrate_owned` is a schema the migrate role made. */
const CREATE_ATTEMPTS: readonly (readonly [string, string])[] = [
    ["a table in public", "CREATE TABLE public.sneaky (id int)"],
    ["a view in public", "CREATE VIEW public.sneaky_view AS SELECT 1 AS one"],
    ["a function in public", "CREATE FUNCTION public.sneaky_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'"],
    ["a sequence in public", "CREATE SEQUENCE public.sneaky_seq"],
    ["a type in public", "CREATE TYPE public.sneaky_type AS (a int)"],
    ["a schema", "CREATE SCHEMA sneaky_schema"],
    ["a table in the migrate role's schema", "CREATE TABLE migrate_owned.sneaky (id int)"],
];

describe.each(matrixVersions())("PostgreSQL %i", (major) => {
    const cluster = new TestCluster({ version: major });
    let stack: TestStack;
    let apps: Record<string, AppFacts>;

    beforeAll(async () => {
        await cluster.start();
        stack = await TestStack.create({
            config: {
                servers: { local: cluster.serverConfig({ clientCidrs: ["127.0.0.1/32"] }) },
                apps: {
                    shop: {
                        access: "readwrite",
                        connectionLimit: 2,
                        extraRoles: { shop_dashboard: { access: "readonly", connectionLimit: 1 } },
                    },
                    reports: { access: "readonly", connectionLimit: 1 },
                },
            },
            secrets: [{ path: "servers.local.admin.password", value: cluster.adminPassword }],
        });
        await stack.stack.up({ onOutput: () => undefined });
        apps = (await stack.outputs()).apps;
    });

    afterAll(async () => {
        await stack?.dispose();
        await cluster.stop();
    });

    it("runs the major version it was given", async () => {
        const [{ v }] = await cluster.admin<{ v: number }>("SELECT current_setting('server_version_num')::int AS v");
        expect(Math.floor(v / 10000)).toBe(major);
    });

    it("lets each runtime role into its own database and refuses it the other's", async () => {
        expect(await queryUrl(apps.shop.runtimeUrl, "SELECT current_user AS who, current_database() AS db")).toEqual([
            { who: "shop_app", db: "shop" },
        ]);
        expect(await queryUrl(apps.reports.runtimeUrl, "SELECT current_database() AS db")).toEqual([{ db: "reports" }]);
        await expect(queryUrl(withDatabase(apps.shop.runtimeUrl, "reports"), "SELECT 1")).rejects.toThrow(
            /permission denied for database "?reports"?/,
        );
        await expect(queryUrl(withDatabase(apps.reports.runtimeUrl, "shop"), "SELECT 1")).rejects.toThrow(
            /permission denied for database "?shop"?/,
        );
    });

    it("lets the migrate role create in public, and the runtime and read-only roles create nothing anywhere", async () => {
        await queryUrl(
            apps.shop.migrateUrl,
            "CREATE TABLE items (id int); CREATE SCHEMA migrate_owned; CREATE TABLE migrate_owned.t (id int)",
        );
        await queryUrl(apps.reports.migrateUrl, "CREATE SCHEMA migrate_owned");
        const restricted: [string, string][] = [
            ["shop_app (readwrite)", apps.shop.runtimeUrl],
            ["shop_dashboard (readonly extra role)", apps.shop.extraRoleUrls.shop_dashboard],
            ["reports_app (readonly)", apps.reports.runtimeUrl],
        ];
        for (const [who, url] of restricted) {
            for (const [what, sql] of CREATE_ATTEMPTS) {
                await expect(queryUrl(url, sql), `${who} must not create ${what}`).rejects.toThrow(/permission denied/);
            }
        }
        // The runtime role still does what its access level says.
        await queryUrl(apps.shop.runtimeUrl, "INSERT INTO items VALUES (1)");
        expect(await queryUrl(apps.shop.extraRoleUrls.shop_dashboard, "SELECT id FROM items")).toEqual([{ id: 1 }]);
    });

    it("makes no app role a superuser, role creator or database creator", async () => {
        const roles = await cluster.admin(
            `SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
               FROM pg_roles WHERE rolname ~ '^(shop|reports)_' ORDER BY 1`,
        );
        expect(roles.map((r) => r.rolname)).toEqual(["reports_app", "reports_migrate", "shop_app", "shop_dashboard", "shop_migrate"]);
        for (const r of roles) expect(r, r.rolname).toMatchObject(NO_ROLE_POWERS);
    });

    it("lets the server enforce CONNECTION LIMIT", async () => {
        const open: Client[] = [];
        try {
            for (let i = 0; i < 2; i++) open.push(await connectUrl(apps.shop.runtimeUrl));
            await expect(connectUrl(apps.shop.runtimeUrl)).rejects.toThrow(/too many connections for role "shop_app"/);
        } finally {
            await Promise.all(open.map((c) => c.end()));
        }
    });

    it("shows no change on a preview after the up", async () => {
        const preview = await stack.stack.preview({ onOutput: () => undefined });
        expect(Object.keys(preview.changeSummary).filter((k) => k !== "same")).toEqual([]);
    });

    it("admits each managed role from its network only once the generated pg_hba lines are loaded above a broad fallback", async () => {
        const { pgHba } = await stack.outputs();
        const fallback = "host all all 127.0.0.0/8 scram-sha-256";
        await cluster.setHba([...pgHba.local, fallback]);
        const logins: [string, string][] = [
            ["shop_app", apps.shop.runtimeUrl],
            ["shop_migrate", apps.shop.migrateUrl],
            ["shop_dashboard", apps.shop.extraRoleUrls.shop_dashboard],
            ["reports_app", apps.reports.runtimeUrl],
            ["reports_migrate", apps.reports.migrateUrl],
        ];
        for (const [role, url] of logins) {
            const allowed = await connectUrlFrom(url, "127.0.0.1");
            expect((await allowed.query("SELECT current_user AS who")).rows).toEqual([{ who: role }]);
            await allowed.end();
            await expect(connectUrlFrom(url, "127.0.0.2"), `${role} from 127.0.0.2`).rejects.toThrow(
                new RegExp(`pg_hba\\.conf rejects connection for host "127\\.0\\.0\\.2", user "${role}"`),
            );
        }
        // From its own network too, a role reaches no other database: the reject line covers every database.
        await expect(connectUrlFrom(withDatabase(apps.shop.runtimeUrl, "postgres"), "127.0.0.1")).rejects.toThrow(
            /pg_hba\.conf rejects connection for host "127\.0\.0\.1", user "shop_app", database "postgres"/,
        );
        // The fallback still admits everyone else from anywhere.
        const admin = await connectUrlFrom(
            `postgresql://${cluster.adminUser}:${encodeURIComponent(cluster.adminPassword)}@127.0.0.1:${cluster.port}/postgres`,
            "127.0.0.2",
        );
        await admin.end();
    });

    describe("with a non-superuser admin (CREATEROLE, CREATEDB: RDS, Cloud SQL)", () => {
        const ADMIN = "provisioner";
        const ADMIN_PASSWORD = "provisioner-password";
        let admined: TestStack;

        beforeAll(async () => {
            await cluster.admin(`CREATE ROLE ${ADMIN} LOGIN CREATEROLE CREATEDB PASSWORD '${ADMIN_PASSWORD}'`);
            admined = await TestStack.create({
                config: {
                    servers: { local: cluster.serverConfig({ admin: { username: ADMIN, superuser: false } }) },
                    apps: { notes: { extraRoles: { notes_ro: { access: "readonly", connectionLimit: 1 } } } },
                },
                secrets: [{ path: "servers.local.admin.password", value: ADMIN_PASSWORD }],
            });
        });

        afterAll(async () => {
            await admined?.dispose();
        });

        it("provisions an app whose runtime and read-only roles create nothing, and changes nothing on a second preview", async () => {
            if (major < 15) {
                // On 14 the schema belongs to the bootstrap superuser: the up stops at the lock and names the SQL that does it.
                let output = "";
                await expect(admined.stack.up({ onOutput: (t) => (output += t) })).rejects.toThrow();
                expect(output).toContain(
                    `database notes: cannot revoke CREATE on schema public from PUBLIC: the schema belongs to postgres and ${ADMIN} may not change its privileges`,
                );
                const sql = /Run as postgres in notes: (.*)$/m.exec(output)![1];
                for (const statement of sql.split(";").filter((t) => t.trim())) await cluster.admin(statement, [], "notes");
            }
            await admined.stack.up({ onOutput: () => undefined });
            const { apps: out } = await admined.outputs();
            await queryUrl(out.notes.migrateUrl, "CREATE TABLE notes (id int)");
            for (const url of [out.notes.runtimeUrl, out.notes.extraRoleUrls.notes_ro]) {
                await expect(queryUrl(url, "CREATE TABLE public.sneaky (id int)")).rejects.toThrow(/permission denied/);
            }
            await queryUrl(out.notes.runtimeUrl, "INSERT INTO notes VALUES (1)");
            const preview = await admined.stack.preview({ onOutput: () => undefined });
            expect(Object.keys(preview.changeSummary).filter((k) => k !== "same")).toEqual([]);
        });

        it("leaves the admin no membership it could use the app roles' privileges through", async () => {
            const usable = await cluster.admin<{ rolname: string }>(
                `SELECT rolname FROM pg_roles WHERE rolname ~ '^notes_' AND pg_has_role($1, oid, 'USAGE') ORDER BY 1`,
                [ADMIN],
            );
            expect(usable).toEqual([]);
            // What it does hold on 16+ (ADMIN OPTION on every role it created) is in the access report.
            const { access } = await admined.outputs();
            const held = (access.local.adminOptions ?? []).filter((a: { heldBy: string }) => a.heldBy === ADMIN);
            const expected =
                major >= 16 ? ["notes_app", "notes_migrate", "notes_ro"].map((role) => ({ role, heldBy: ADMIN, usable: false })) : [];
            expect(held).toEqual(expected);
        });

        it("changes a role's limit and rotates its password, then drops what it made on destroy", async () => {
            // ALTER ROLE naming SUPERUSER, REPLICATION or BYPASSRLS, even to keep them off, is refused to a non-superuser.
            const { apps: before } = await admined.outputs();
            await admined.setConfig(
                {
                    servers: { local: cluster.serverConfig({ admin: { username: ADMIN, superuser: false } }) },
                    apps: {
                        notes: { rotation: { runtime: 1 }, extraRoles: { notes_ro: { access: "readonly", connectionLimit: 2 } } },
                    },
                },
                [{ path: "servers.local.admin.password", value: ADMIN_PASSWORD }],
            );
            const up = await admined.stack.up({ onOutput: () => undefined });
            expect(Object.keys(up.summary.resourceChanges ?? {}).filter((k) => k !== "same")).toEqual(["update"]);
            const limits = await cluster.admin<{ rolname: string; rolconnlimit: number }>(
                "SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname = 'notes_ro'",
            );
            expect(limits).toEqual([{ rolname: "notes_ro", rolconnlimit: 2 }]);
            const { apps: after } = await admined.outputs();
            expect(after.notes.runtimeUrl).not.toBe(before.notes.runtimeUrl);
            await queryUrl(after.notes.runtimeUrl, "SELECT 1");
            await expect(queryUrl(before.notes.runtimeUrl, "SELECT 1")).rejects.toThrow(/password authentication failed/);

            await admined.stack.destroy({ onOutput: () => undefined });
            const { roles, databases } = await cluster.catalog();
            expect(roles.filter((r) => r.startsWith("notes"))).toEqual([]);
            expect(databases).not.toContain("notes");
        });
    });
});
