/**
 * An existing stack upgrades to this program without replacing or losing
 * anything: a stack is brought up by the program as it was at a revision
 * (taken from git history with `git archive`), then this program previews
 * and updates the same state. The stack covers every kind of resource: a
 * shared server with system-database hardening, the three access levels, an
 * extra role, zero-downtime rotation, a dedicated container, and the
 * data-loss guard.
 *
 * Since those revisions:
 * - each dedicated server got its pg_hba.conf (ServerHba): created once;
 * - each app's default privileges moved from the postgresql provider's
 *   DefaultPrivileges (one resource per role, schema and object type) into
 *   its DatabaseAccess. The first `up` updates each DatabaseAccess and keeps
 *   the old resources with retainOnDelete (no change shown); the second
 *   forgets them, deleting nothing on the server; then nothing changes. The
 *   privileges hold throughout: a table the migrate role creates afterwards
 *   is usable by the runtime roles as their access level says;
 * - each created login role moved from the random provider's RandomPassword
 *   and the postgresql provider's Role into a ManagedRoles (one per pair, one
 *   per extra role). The first `up` creates each ManagedRoles by taking the
 *   roles over with the passwords in the last state, lets each RandomPassword go (deleting one touches
 *   nothing) and keeps each Role with retainOnDelete (no change shown); the
 *   second forgets the Roles, dropping nothing on the server;
 * - each created app database (and its schemas) moved from the postgresql
 *   provider's Database (and Schemas) into its DatabaseAccess. The first `up`
 *   updates each DatabaseAccess (it records that the database is its own, to
 *   drop when the app is removed) and keeps each Database with retainOnDelete
 *   (no change shown); the second forgets them, dropping nothing. Removing an
 *   app afterwards still drops its database and roles;
 * - each created app database's login roles moved from its RolePair's
 *   ManagedRoles (and one ManagedRoles per extra role) into its DatabaseAccess.
 *   The first `up` updates each DatabaseAccess, which takes the roles over
 *   with the passwords in the last state; each RolePair component goes (a
 *   component: nothing on the server), and what it held (the ManagedRoles, or
 *   the provider's Roles of older stacks) stays, unchanged, under the app
 *   (an alias) with retainOnDelete; the second forgets them, dropping nothing.
 *
 * Six revisions: 01c3ebd (before components/ and program/ were split),
 * cd87777 (ts-node, serialized dynamic providers, no pg_hba for dedicated
 * servers), 49a7c4e (compiled, the last with provider DefaultPrivileges),
 * 0934728 (the last with provider Roles and RandomPasswords), bad7bf3 (the
 * last with the provider's Database) and 83bc050 (the last with a RolePair
 * and ManagedRoles per app).
 * A row in each app database and every password in the outputs survive.
 *
 * Needs the revisions in the clone's history (CI runs on a full clone).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, queryUrl, TestCluster } from "../kit/postgres";
import { copyWorkTreeProgram, extractProgramAt } from "../kit/program";
import { TestStack } from "../kit/stack";

/** The revisions a stack upgrades from (APP_DATABASES_UPGRADE_FROM: others, to try them). */
const UPGRADE_FROM = process.env.APP_DATABASES_UPGRADE_FROM?.split(",") ?? [
    "01c3ebd",
    "cd87777",
    "49a7c4e",
    "0934728",
    "bad7bf3",
    "83bc050",
];
const [imageName, imageVersion] = (process.env.APP_DATABASES_PG_IMAGE ?? "app-databases/postgres:15").split(":");

const SERVER_HBA = "pulumi-nodejs:dynamic/app-databases:ServerHba";
const DATABASE_ACCESS = "pulumi-nodejs:dynamic/app-databases:DatabaseAccess";
const DEFAULT_PRIVILEGES = "postgresql:index/defaultPrivileges:DefaultPrivileges";
const PROVIDER_ROLE = "postgresql:index/role:Role";
const RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword";
const MANAGED_ROLES = "pulumi-nodejs:dynamic/app-databases:ManagedRoles";
const PROVIDER_DATABASE = "postgresql:index/database:Database";
const ROLE_PAIR = "app-databases:index:RolePair";

/** A state resource's type, from its URN. */
const typeOf = (urn: string) => urn.split("::")[2].split("$").pop()!;

describe.each(UPGRADE_FROM)("a stack made by the program at %s", (revision) => {
    const cluster = new TestCluster();
    let stack: TestStack;
    let oldProgram: string;
    /** Resources the old program created (the default providers are not counted, as in every summary). */
    let created: number;
    /** The old program's outputs, passwords included. */
    let before: Record<string, any>;
    let config: Record<string, any>;
    const secrets = () => [{ path: "servers.local.admin.password", value: cluster.adminPassword }];

    beforeAll(async () => {
        await cluster.start();
        oldProgram = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-old-"));
        extractProgramAt(revision, oldProgram);
        const port = await freePort();
        config = {
            dedicated: { image: `${imageName}:{version}`, version: imageVersion, memoryMb: 256, publishPort: true },
            servers: {
                local: {
                    host: "127.0.0.1",
                    port: cluster.port,
                    sslmode: "disable",
                    admin: { username: "postgres", superuser: true },
                    systemDatabaseAccess: ["monitor"],
                    externalRoles: { monitor: 2 },
                },
            },
            apps: {
                shop: { access: "readwrite", connectionLimit: 3, idleSessionTimeoutMs: 60000 },
                reports: { access: "readonly", connectionLimit: 2, rotation: { runtime: 1, zeroDowntime: true } },
                billing: {
                    access: "migrations",
                    database: "billing_db",
                    extraRoles: { billing_dashboard: { access: "readonly", connectionLimit: 1 } },
                },
                solo: { placement: "dedicated", connectionLimit: 4, dedicated: { hostPort: port } },
            },
        };
        stack = await TestStack.create({ program: { dir: oldProgram, project: "app-databases" }, config, secrets: secrets() });
        await cluster.admin("CREATE ROLE monitor LOGIN");
        const up = await stack.stack.up({ onOutput: (s) => process.stdout.write(s) });
        created = up.summary.resourceChanges?.create ?? 0;
        expect(created).toBeGreaterThan(0);
        before = await stack.outputs();
        for (const app of ["shop", "billing", "solo"]) {
            await queryUrl(before.apps[app].migrateUrl, `CREATE TABLE kept (note text); INSERT INTO kept VALUES ('made at ${revision}')`);
        }
    });

    afterAll(async () => {
        await stack?.dispose();
        await cluster.stop();
        if (oldProgram) fs.rmSync(oldProgram, { recursive: true, force: true });
    });

    /** Every change the preview of this program would make, as "op type name" (providers aside). */
    const plannedSteps = (): string[] => {
        const preview = stack.cli("preview", "--json", "--non-interactive");
        expect(preview.status, preview.stderr).toBe(0);
        return (JSON.parse(preview.stdout).steps ?? [])
            .filter((step: { op: string; urn: string }) => step.op !== "same" && !typeOf(step.urn).startsWith("pulumi:providers:"))
            .map((step: { op: string; urn: string }) => `${step.op} ${typeOf(step.urn)} ${step.urn.split("::").pop()}`)
            .sort();
    };
    const stateUrns = (): string[] =>
        JSON.parse(stack.stateFile())
            .checkpoint.latest.resources.map((r: { urn: string }) => r.urn)
            .filter((urn: string) => !typeOf(urn).startsWith("pulumi:providers:"))
            .sort();

    it("upgrades to this program in two ups, replacing nothing; rows, passwords and privileges survive", async () => {
        const urnsBefore = stateUrns();
        const nameOf = (urn: string) => urn.split("::").pop()!;
        const legacyPrivileges = urnsBefore.filter((urn) => typeOf(urn) === DEFAULT_PRIVILEGES);
        const roles = urnsBefore.filter((urn) => typeOf(urn) === PROVIDER_ROLE);
        // Each created login role: shop 2, reports 3 (zero-downtime), billing 3 (an extra role), solo 2.
        expect([0, 10]).toContain(roles.length);
        const passwords = roles.map((urn) =>
            urnsBefore.find((u) => typeOf(u) === RANDOM_PASSWORD && nameOf(u) === `${nameOf(urn)}-password`)!,
        );
        expect(passwords.every(Boolean)).toBe(true);
        const managed = urnsBefore.filter((urn) => typeOf(urn) === MANAGED_ROLES);
        // One per app's pair, and billing's extra role; or the provider's Roles instead.
        expect(managed.length).toBe(roles.length === 0 ? 5 : 0);
        const rolePairs = urnsBefore.filter((urn) => typeOf(urn) === ROLE_PAIR);
        const databases = urnsBefore.filter((urn) => typeOf(urn) === PROVIDER_DATABASE);
        const apps = ["shop", "reports", "billing", "solo"];
        const appName = (app: string) => `${app}@${app === "solo" ? "dedicated-solo" : "local"}`;
        expect(rolePairs.map(nameOf).sort()).toEqual(apps.map(appName).sort());
        // The provider's Database of each app, up to bad7bf3.
        expect([[], apps.map(appName).sort()]).toContainEqual(databases.map(nameOf).sort());
        const hadHba = urnsBefore.some((urn) => typeOf(urn) === SERVER_HBA);
        /** A resource as "type name": the URN of one that was a RolePair's child changes with its parent (an alias). */
        const named = (urn: string) => `${typeOf(urn)} ${nameOf(urn)}`;
        copyWorkTreeProgram(stack.dir);

        // First up: each DatabaseAccess takes its database over (and the default privileges) and
        // its roles; the old Databases, DefaultPrivileges, Roles and ManagedRoles stay, unchanged,
        // and the RandomPasswords and RolePair components go.
        expect(plannedSteps()).toEqual(
            [
                ...(hadHba ? [] : [`create ${SERVER_HBA} dedicated-solo-hba`]),
                ...apps.map((app) => `update ${DATABASE_ACCESS} ${appName(app)}-access`),
                ...[...passwords, ...rolePairs].map((urn) => `delete ${named(urn)}`),
            ].sort(),
        );
        const first = await stack.stack.up({ onOutput: (s) => process.stdout.write(s) });
        const { same, ...firstChanges } = first.summary.resourceChanges ?? {};
        expect(firstChanges).toEqual({
            ...(hadHba ? {} : { create: 1 }),
            update: apps.length,
            delete: passwords.length + rolePairs.length,
        });
        expect(same).toBe(created - apps.length - passwords.length - rolePairs.length);
        const namedBefore = urnsBefore.map(named);
        expect(
            stateUrns()
                .filter((urn) => !namedBefore.includes(named(urn)))
                .map(typeOf),
        ).toEqual(hadHba ? [] : [SERVER_HBA]);

        // Second up: the old resources leave the state only.
        const legacy = [...legacyPrivileges, ...roles, ...databases, ...managed].map(named);
        expect(plannedSteps()).toEqual(legacy.map((r) => `delete ${r}`).sort());
        const second = await stack.stack.up({ onOutput: (s) => process.stdout.write(s) });
        expect(second.summary.resourceChanges?.delete).toBe(legacy.length);
        const after = stateUrns();
        expect(
            after.filter((urn) =>
                [DEFAULT_PRIVILEGES, PROVIDER_ROLE, RANDOM_PASSWORD, PROVIDER_DATABASE, MANAGED_ROLES, ROLE_PAIR].includes(typeOf(urn)),
            ),
        ).toEqual(
            // The dedicated server's superuser password stays a RandomPassword.
            after.filter((urn) => typeOf(urn) === RANDOM_PASSWORD && !passwords.includes(urn)),
        );
        const namedAfter = after.map(named);
        expect(namedBefore.filter((r) => !namedAfter.includes(r)).sort()).toEqual(
            [...legacy, ...[...passwords, ...rolePairs].map(named)].sort(),
        );

        const expectNoChanges = stack.cli("preview", "--expect-no-changes", "--non-interactive");
        expect(expectNoChanges.status, expectNoChanges.stdout + expectNoChanges.stderr).toBe(0);

        const now = await stack.outputs();
        expect(now.apps).toEqual(before.apps);
        for (const app of ["shop", "billing", "solo"]) {
            expect(await queryUrl(now.apps[app].migrateUrl, "SELECT note FROM kept")).toEqual([{ note: `made at ${revision}` }]);
        }
        for (const app of ["shop", "reports", "billing", "solo"]) {
            // reports rotated with zero downtime: its URL names the alternate login, a member of reports_app.
            expect(await queryUrl(now.apps[app].runtimeUrl, "SELECT current_user AS u")).toEqual([
                { u: app === "reports" ? "reports_app_alt" : `${app}_app` },
            ]);
            await queryUrl(now.apps[app].migrateUrl, "CREATE TABLE made_after (id serial PRIMARY KEY, note text)");
        }
        // Tables made after the upgrade: readwrite writes (the sequence too), readonly reads, migrations nothing.
        for (const app of ["shop", "solo"]) {
            await queryUrl(now.apps[app].runtimeUrl, "INSERT INTO made_after (note) VALUES ('written')");
            expect(await queryUrl(now.apps[app].runtimeUrl, "SELECT note FROM made_after")).toEqual([{ note: "written" }]);
        }
        expect(await queryUrl(now.apps.reports.runtimeUrl, "SELECT count(*)::int AS n FROM made_after")).toEqual([{ n: 0 }]);
        await expect(queryUrl(now.apps.reports.runtimeUrl, "INSERT INTO made_after (note) VALUES ('no')")).rejects.toThrow(
            /permission denied/,
        );
        await expect(queryUrl(now.apps.billing.runtimeUrl, "SELECT 1 FROM made_after")).rejects.toThrow(/permission denied/);
        expect(await queryUrl(now.apps.billing.extraRoleUrls.billing_dashboard, "SELECT count(*)::int AS n FROM made_after")).toEqual([
            { n: 0 },
        ]);

        // The upgraded DatabaseAccess owns its database: removing the app (a dev stack) drops it, then its roles.
        const { reports: _removed, ...kept } = config.apps;
        await stack.setConfig({ ...config, apps: kept }, secrets());
        const removal = await stack.stack.up({ onOutput: (s) => process.stdout.write(s) });
        expect(removal.summary.resourceChanges?.delete).toBeGreaterThan(0);
        expect(await cluster.admin("SELECT datname FROM pg_database WHERE datname = 'reports'")).toEqual([]);
        expect(await cluster.admin("SELECT rolname FROM pg_roles WHERE rolname LIKE 'reports\\_%'")).toEqual([]);
        expect(await queryUrl(now.apps.shop.migrateUrl, "SELECT note FROM kept")).toEqual([{ note: `made at ${revision}` }]);
    });
});
