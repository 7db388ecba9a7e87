/**
 * Brownfield (issue 11): a server that already runs services is adopted with
 * nothing lost. Seeded as the migration story describes it (seed 002): two
 * databases whose objects all belong to `postgres` in schemas `tracksolid` and
 * `reporting`, four roles other tools use, services connected as `postgres`
 * throughout. Plus the lab case (seed 000): a hand-made `grafana` role owning
 * the `grafana` database, adopted with its password kept.
 *
 * Run on the oldest and the newest PostgreSQL of the matrix (PG_VERSIONS
 * narrows it); test/e2e/versions.test.ts covers the rest of the program on every one.
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster } from "../kit/postgres";
import { matrixVersions } from "../kit/postgresVersions";
import { TestStack } from "../kit/stack";
import { GRAFANA_PW, PW, SEED_FLEET, SEED_GRAFANA, SEED_SERVER, SEED_TRACKSOLID } from "../kit/brownfieldSeed";

const EXTERNAL = { analytics_ro: 8, dashboard_ro: 12, grafana_ro: 5, reporting_refresher: 3 };
const OTHER_TOOLS = Object.keys(EXTERNAL);

const [oldest, newest] = [Math.min(...matrixVersions()), Math.max(...matrixVersions())];

describe.each([...new Set([oldest, newest])])("PostgreSQL %i", (major) => {
    const cluster = new TestCluster({ maxConnections: 120, version: major });
    let stack: TestStack;

    const server = () => ({
        lab: {
            host: "127.0.0.1",
            port: cluster.port,
            sslmode: "disable",
            admin: { username: "postgres", superuser: true },
            maxConnections: 120,
            externalRoles: EXTERNAL,
        },
    });

    const service = (access: string, connectionLimit: number, more: Record<string, unknown> = {}) => ({ access, connectionLimit, ...more });

    /** Seed 002's six services (four peers on tracksolid_db, two on fleet_platform), plus nothing else. */
    const TRACKSOLID = {
        database: "tracksolid_db",
        access: "readonly",
        connectionLimit: 5,
        roles: { runtime: "worker_app" },
        schemas: ["tracksolid", "reporting"],
        adopt: {
            database: true,
            moveObjects: { schemas: ["tracksolid", "reporting"] },
            keepConnect: OTHER_TOOLS,
        },
        extraRoles: {
            webhook_app: service("readwrite", 10, { runsMigrations: true }),
            ingest_app: service("readwrite", 10, { runsMigrations: true }),
            dashboard_app: service("readonly", 8),
        },
    };
    const FLEET = {
        database: "fleet_platform",
        connectionLimit: 15,
        roles: { runtime: "gateway_app" },
        adopt: { database: true, moveObjects: { schemas: ["public"] }, keepConnect: OTHER_TOOLS },
        extraRoles: { cron_app: service("readwrite", 5) },
    };
    const GRAFANA = {
        roles: { migrate: "grafana" },
        connectionLimit: 5,
        adopt: { database: true, roles: { grafana: { password: "set-as-secret" } }, keepConnect: ["grafana_ro"] },
    };

    const secrets = () => [
        { path: "servers.lab.admin.password", value: cluster.adminPassword },
        { path: "apps.grafana.adopt.roles.grafana.password", value: GRAFANA_PW },
    ];

    async function sql(
        database: string,
        statements: readonly string[],
        user = "postgres",
        password = cluster.adminPassword,
    ): Promise<void> {
        const client = new Client(cluster.clientConfig(user, password, database));
        await client.connect();
        try {
            for (const s of statements) await client.query(s);
        } finally {
            await client.end();
        }
    }

    async function query<T = any>(database: string, text: string, user = "postgres", password = cluster.adminPassword): Promise<T[]> {
        const client = new Client(cluster.clientConfig(user, password, database));
        await client.connect();
        try {
            return (await client.query(text)).rows as T[];
        } finally {
            await client.end();
        }
    }

    /** Row counts and an md5 of every row of the seeded tables: what "no row lost" is checked against. */
    async function fingerprint(): Promise<Record<string, string>> {
        const tables: [string, string][] = [
            ["tracksolid_db", "tracksolid.positions"],
            ["tracksolid_db", "tracksolid.devices"],
            ["tracksolid_db", "reporting.daily"],
            ["fleet_platform", "public.vehicles"],
        ];
        const out: Record<string, string> = {};
        for (const [db, table] of tables) {
            const [row] = await query<{ n: number; sum: string }>(
                db,
                `SELECT count(*)::int AS n, md5(string_agg(t::text, ',' ORDER BY t::text)) AS sum FROM ${table} t`,
            );
            out[`${db}/${table}`] = `${row.n}:${row.sum}`;
        }
        const [seq] = await query<{ last_value: string }>("tracksolid_db", "SELECT last_value::text FROM tracksolid.batch_seq");
        out["tracksolid_db/tracksolid.batch_seq"] = seq.last_value;
        return out;
    }

    /** What `user` (with the password from its URL) can do in `database`, one statement at a time. */
    async function can(url: string, statement: string): Promise<boolean> {
        const client = new Client({ connectionString: url });
        await client.connect();
        try {
            await client.query(statement);
            return true;
        } catch {
            return false;
        } finally {
            await client.end();
        }
    }

    async function previewOutput(): Promise<{ ok: boolean; output: string }> {
        let output = "";
        try {
            await stack.stack.preview({ onOutput: (s) => (output += s) });
            return { ok: true, output };
        } catch (err) {
            return { ok: false, output: output + String(err) };
        }
    }

    let before: Record<string, string>;
    let legacy: Client; // a service still connected as postgres the whole time

    beforeAll(async () => {
        await cluster.start();
        await sql("postgres", SEED_SERVER);
        await sql("tracksolid_db", SEED_TRACKSOLID);
        await sql("fleet_platform", SEED_FLEET);
        await sql("grafana", SEED_GRAFANA, "grafana", GRAFANA_PW);
        before = await fingerprint();
        legacy = new Client(cluster.clientConfig("postgres", cluster.adminPassword, "tracksolid_db"));
        await legacy.connect();
        stack = await TestStack.create({ config: { servers: server(), apps: {} }, secrets: secrets().slice(0, 1) });
    }, 240_000);

    afterAll(async () => {
        await legacy?.end().catch(() => undefined);
        await stack?.stack.workspace.removeStack(stack.stack.name, { force: true }).catch(() => undefined);
        await cluster.stop();
    });

    describe("without adopt, what exists is refused before anything is applied", () => {
        it("names the existing role and the database, and the two ways forward; nothing is created", async () => {
            await stack.setConfig(
                { servers: server(), apps: { grafana: { connectionLimit: 5, roles: { migrate: "grafana" } } } },
                secrets().slice(0, 1),
            );
            const { ok, output } = await previewOutput();
            expect(ok).toBe(false);
            expect(output).toContain("apps.grafana: database grafana, role grafana already exist on server lab, made outside this stack.");
            expect(output).toContain("Adopt them (apps.grafana.adopt.database: true; apps.grafana.adopt.roles.grafana:");
            expect(output).toContain("or choose another name (apps.grafana.database;");
            const up = stack.cli("up", "--yes", "--skip-preview");
            expect(up.status).not.toBe(0);
            const roles = await query("postgres", "SELECT rolname FROM pg_roles WHERE rolname = 'grafana_app'");
            expect(roles).toEqual([]); // no half-applied up
        });

        it("refuses adopting a database that does not exist, a schema that does not exist, and moving system objects", async () => {
            await stack.setConfig(
                {
                    servers: server(),
                    apps: {
                        ghost: { adopt: { database: true } },
                        tracksolid: { ...TRACKSOLID, schemas: ["tracksolid", "reporting", "billing"] },
                    },
                },
                secrets().slice(0, 1),
            );
            const { ok, output } = await previewOutput();
            expect(ok).toBe(false);
            expect(output).toContain("apps.ghost.adopt.database: database ghost does not exist on server lab, so it cannot be adopted");
            expect(output).toContain("apps.tracksolid.schemas: schema billing does not exist in database tracksolid_db on server lab");

            const system = { ...FLEET, adopt: { ...FLEET.adopt, moveObjects: { schemas: ["public", "pg_catalog"] } } };
            await stack.setConfig({ servers: server(), apps: { fleet: system } }, secrets().slice(0, 1));
            const refused = await previewOutput();
            expect(refused.ok).toBe(false);
            expect(refused.output).toContain(`apps.fleet.adopt.moveObjects.schemas: "pg_catalog" is PostgreSQL's own schema`);
        });

        it("refuses to cut off roles that connect through PUBLIC today unless the config keeps them", async () => {
            const { keepConnect: _kept, ...adopt } = TRACKSOLID.adopt;
            await stack.setConfig({ servers: server(), apps: { tracksolid: { ...TRACKSOLID, adopt } } }, secrets().slice(0, 1));
            const { ok, output } = await previewOutput();
            expect(ok).toBe(false);
            expect(output).toContain(
                "apps.tracksolid.adopt: adopting database tracksolid_db revokes CONNECT from PUBLIC, and analytics_ro, dashboard_ro, grafana, grafana_ro, reporting_refresher can connect to it today.",
            );
        });

        it("refuses to 'keep' a password that is not the role's current one", async () => {
            await stack.setConfig({ servers: server(), apps: { grafana: GRAFANA } }, [
                ...secrets().slice(0, 1),
                { path: "apps.grafana.adopt.roles.grafana.password", value: "not-what-grafana-uses" },
            ]);
            const { ok, output } = await previewOutput();
            expect(ok).toBe(false);
            expect(output).toContain(
                "apps.grafana.adopt.roles.grafana: the supplied password is not role grafana's current one on server lab (checked against its stored verifier)",
            );
            expect(await query("grafana", "SELECT 1 AS ok", "grafana", GRAFANA_PW)).toEqual([{ ok: 1 }]);
        });

        it("with a non-superuser admin, names what it cannot do and what to run as a superuser", async () => {
            await sql("postgres", ["CREATE ROLE provisioner LOGIN CREATEROLE CREATEDB PASSWORD 'provisioner-pw'"]);
            try {
                const lab = { ...server().lab, admin: { username: "provisioner", superuser: false } };
                // moveObjects.from defaults to the admin: name the owner the objects really have.
                const tracksolid = {
                    ...TRACKSOLID,
                    adopt: { ...TRACKSOLID.adopt, moveObjects: { schemas: ["tracksolid"], from: ["postgres"] } },
                };
                await stack.setConfig({ servers: { lab }, apps: { tracksolid, grafana: GRAFANA } }, [
                    { path: "servers.lab.admin.password", value: "provisioner-pw" },
                    { path: "apps.grafana.adopt.roles.grafana.password", value: GRAFANA_PW },
                ]);
                const { ok, output } = await previewOutput();
                expect(ok).toBe(false);
                expect(output).toContain(
                    "apps.tracksolid.adopt.moveObjects.from: admin provisioner cannot take objects owned by postgres (it does not have postgres's privileges)",
                );
                if (major >= 16) {
                    expect(output).toContain(
                        "apps.grafana.adopt.roles.grafana: admin provisioner lacks ADMIN OPTION on role grafana, which PostgreSQL 16+ requires to alter it",
                    );
                } else {
                    expect(output).not.toContain("lacks ADMIN OPTION");
                }
            } finally {
                await sql("postgres", ["DROP ROLE provisioner"]);
            }
        });

        it("refuses an owner change out of an extension's schema", async () => {
            // A schema that is itself part of an extension (as TimescaleDB's catalog schemas are).
            await sql("fleet_platform", ["CREATE SCHEMA ext", "ALTER EXTENSION pgcrypto ADD SCHEMA ext"]);
            try {
                await stack.setConfig(
                    {
                        servers: server(),
                        apps: {
                            fleet: {
                                ...FLEET,
                                schemas: ["public", "ext"],
                                adopt: { ...FLEET.adopt, moveObjects: { schemas: ["public", "ext"] } },
                            },
                        },
                    },
                    secrets().slice(0, 1),
                );
                const { ok, output } = await previewOutput();
                expect(ok).toBe(false);
                expect(output).toContain(
                    "apps.fleet.adopt.moveObjects.schemas: schema ext belongs to extension pgcrypto: its objects never move",
                );
            } finally {
                await sql("fleet_platform", ["ALTER EXTENSION pgcrypto DROP SCHEMA ext", "DROP SCHEMA ext"]);
            }
        });
    });

    describe("adopting the six services and the lab's grafana in one stack", () => {
        const apps = { tracksolid: TRACKSOLID, fleet: FLEET, grafana: GRAFANA };
        let out: Record<string, any>;

        beforeAll(async () => {
            // What the refusal above asks for: the roles that should not reach grafana lose CONNECT by hand.
            await sql("postgres", [
                "REVOKE CONNECT ON DATABASE grafana FROM PUBLIC",
                "GRANT CONNECT ON DATABASE grafana TO grafana, grafana_ro",
            ]);
            await stack.setConfig({ servers: server(), apps }, secrets());
            const preview = await previewOutput();
            expect(preview.ok, preview.output).toBe(true);
            // The preview says what adoption changes before anything is applied.
            expect(preview.output).toContain("apps.tracksolid on lab: adoption changes these (nothing is dropped or recreated):");
            expect(preview.output).toContain("database tracksolid_db: kept with its data; owner postgres -> tracksolid_migrate");
            expect(preview.output).toContain(
                "ownership: 3 tables, 1 view, 1 sequence, 1 function in tracksolid, reporting owned by postgres -> tracksolid_migrate; 1 owned by other roles stay theirs",
            );
            expect(preview.output).toContain(
                "role grafana (existing): CONNECTION LIMIT none -> 2; password kept (the supplied one, checked against the server's)",
            );
            expect(preview.output).toContain(
                "grants to webhook_app: DELETE, INSERT, SELECT, UPDATE in tracksolid, reporting on what is there",
            );
            await stack.stack.up({ onOutput: () => undefined });
            out = (await stack.outputs()).apps;
        }, 600_000);

        it("keeps every row, sequence value and the superuser session", async () => {
            expect(await fingerprint()).toEqual(before);
            expect((await legacy.query("SELECT count(*)::int AS n FROM tracksolid.positions")).rows[0].n).toBe(500);
        });

        it("gives each service its own NOSUPERUSER role with its limit", async () => {
            const rows = await query<{ rolname: string; rolconnlimit: number; rolsuper: boolean }>(
                "postgres",
                `SELECT rolname, rolconnlimit, rolsuper FROM pg_roles
                  WHERE rolname IN ('webhook_app','ingest_app','worker_app','dashboard_app','gateway_app','cron_app') ORDER BY 1`,
            );
            expect(rows).toEqual([
                { rolname: "cron_app", rolconnlimit: 5, rolsuper: false },
                { rolname: "dashboard_app", rolconnlimit: 8, rolsuper: false },
                { rolname: "gateway_app", rolconnlimit: 15, rolsuper: false },
                { rolname: "ingest_app", rolconnlimit: 10, rolsuper: false },
                { rolname: "webhook_app", rolconnlimit: 10, rolsuper: false },
                { rolname: "worker_app", rolconnlimit: 5, rolsuper: false },
            ]);
        });

        it("moves the app schemas' objects to the migrate role, leaving the refresher's view and nothing else", async () => {
            const owners = await query<{ name: string; owner: string }>(
                "tracksolid_db",
                `SELECT n.nspname || '.' || c.relname AS name, pg_get_userbyid(c.relowner) AS owner
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname IN ('tracksolid', 'reporting') AND c.relkind IN ('r', 'v', 'S') ORDER BY 1`,
            );
            expect(owners).toEqual([
                { name: "reporting.daily", owner: "tracksolid_migrate" },
                { name: "reporting.v_speeds", owner: "tracksolid_migrate" },
                { name: "reporting.v_trips", owner: "reporting_refresher" },
                { name: "tracksolid.batch_seq", owner: "tracksolid_migrate" },
                { name: "tracksolid.devices", owner: "tracksolid_migrate" },
                { name: "tracksolid.positions", owner: "tracksolid_migrate" },
                { name: "tracksolid.positions_id_seq", owner: "tracksolid_migrate" },
            ]);
            const [fn] = await query("tracksolid_db", "SELECT pg_get_userbyid(proowner) AS owner FROM pg_proc WHERE proname = 'kmh'");
            expect(fn.owner).toBe("tracksolid_migrate");
            // pgcrypto's functions in fleet_platform's public schema are the extension's: they stay.
            const [crypto] = await query(
                "fleet_platform",
                "SELECT count(*)::int AS n FROM pg_proc WHERE proname IN ('gen_random_uuid', 'crypt') AND pg_get_userbyid(proowner) <> 'postgres'",
            );
            expect(crypto.n).toBe(0);
            const [vehicles] = await query(
                "fleet_platform",
                "SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = 'vehicles'",
            );
            expect(vehicles.owner).toBe("fleet_migrate");
            // Outside the listed schemas nothing moved.
            const [catalog] = await query(
                "tracksolid_db",
                "SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'pg_catalog'::regnamespace AND relowner <> 10",
            );
            expect(catalog.n).toBe(0);
        });

        it("lets each role do exactly what its access level allows, in the right schemas, on existing and new tables", async () => {
            const urls = { ...out.tracksolid.extraRoleUrls, worker_app: out.tracksolid.runtimeUrl };
            // Readers: SELECT in both schemas (search_path finds them), no writes.
            for (const reader of ["worker_app", "dashboard_app"]) {
                expect(await can(urls[reader], "SELECT count(*) FROM positions"), reader).toBe(true);
                expect(await can(urls[reader], "SELECT * FROM reporting.v_speeds"), reader).toBe(true);
                expect(await can(urls[reader], "INSERT INTO devices VALUES ('x', 'y')"), reader).toBe(false);
            }
            // Writers: rows in, rows out, on existing tables.
            expect(await can(urls.webhook_app, "INSERT INTO positions (device, speed) VALUES ('w', 1)")).toBe(true);
            expect(await can(urls.ingest_app, "DELETE FROM positions WHERE device = 'w'")).toBe(true);
            // Migrations: the migrate role (and the services that run migrations) ALTER the moved tables.
            expect(await can(out.tracksolid.migrateUrl, "ALTER TABLE tracksolid.devices ADD COLUMN seen timestamptz")).toBe(true);
            expect(await can(urls.ingest_app, "ALTER TABLE tracksolid.devices DROP COLUMN seen")).toBe(true);
            expect(await can(urls.dashboard_app, "ALTER TABLE tracksolid.devices ADD COLUMN nope int")).toBe(false);
            // A table the migrate role creates later: the readers read it, the writers write it.
            expect(await can(out.tracksolid.migrateUrl, "CREATE TABLE tracksolid.alerts (id int)")).toBe(true);
            expect(await can(urls.webhook_app, "INSERT INTO alerts VALUES (1)")).toBe(true);
            expect(await can(urls.worker_app, "SELECT * FROM alerts")).toBe(true);
            expect(await can(urls.worker_app, "INSERT INTO alerts VALUES (2)")).toBe(false);
            // fleet_platform: gateway and cron write the vehicles; no access to the other database.
            expect(await can(out.fleet.runtimeUrl, "UPDATE vehicles SET plate = plate WHERE id = 1")).toBe(true);
            expect(await can(out.fleet.extraRoleUrls.cron_app, "INSERT INTO vehicles (plate) VALUES ('c')")).toBe(true);
            expect(await can(out.fleet.extraRoleUrls.cron_app, "DELETE FROM vehicles WHERE plate = 'c'")).toBe(true);
            const other = out.fleet.runtimeUrl.replace("/fleet_platform", "/tracksolid_db");
            await expect(can(other, "SELECT 1")).rejects.toThrow(/permission denied for database/);
        });

        it("keeps the other tools' access and limits", async () => {
            const roles = await query<{ rolname: string; rolconnlimit: number }>(
                "postgres",
                `SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname = ANY('{${OTHER_TOOLS.join(",")}}') ORDER BY 1`,
            );
            expect(Object.fromEntries(roles.map((r) => [r.rolname, r.rolconnlimit]))).toEqual(EXTERNAL);
            expect(await query("tracksolid_db", "SELECT count(*)::int AS n FROM reporting.daily", "analytics_ro", PW)).toEqual([{ n: 30 }]);
            expect(await query("tracksolid_db", "SELECT count(*)::int AS n FROM reporting.v_trips", "reporting_refresher", PW)).toEqual([
                { n: 30 },
            ]);
        });

        it("keeps the lab's grafana password: the app's old URL still works, and grafana still owns its database", async () => {
            expect(await query("grafana", "SELECT count(*)::int AS n FROM dashboard", "grafana", GRAFANA_PW)).toEqual([{ n: 2 }]);
            expect(out.grafana.migrateUser).toBe("grafana");
            expect(new URL(out.grafana.migrateUrl).password).toBe(GRAFANA_PW);
            const [db] = await query("postgres", "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'grafana'");
            expect(db.owner).toBe("grafana");
            expect(await can(out.grafana.runtimeUrl, "INSERT INTO dashboard (title) VALUES ('new')")).toBe(true);
        });

        it("shows no changes on a no-op preview afterwards, and no adoption plan", async () => {
            let output = "";
            const result = await stack.stack.preview({ expectNoChanges: true, onOutput: (s) => (output += s) });
            expect(result.changeSummary.same).toBeGreaterThan(0);
            expect(output).not.toContain("adoption changes these");
            expect(output).not.toContain("of what it adopted");
            const refreshed = stack.cli("preview", "--refresh", "--expect-no-changes", "--non-interactive");
            expect(refreshed.status, refreshed.stdout + refreshed.stderr).toBe(0);
        });

        it("moves a table the superuser created after adoption on the next up (drift, then fixed)", async () => {
            await legacy.query("CREATE TABLE tracksolid.late (id int)");
            // The plan names what the next up would still change of what was adopted, and nothing else.
            const preview = await previewOutput();
            expect(preview.output).toContain("apps.tracksolid on lab: the next up changes these of what it adopted:");
            expect(preview.output).toContain("ownership: 1 table -> tracksolid_migrate");
            expect(preview.output).not.toContain("apps.fleet on lab");
            const drift = stack.cli("preview", "--refresh", "--expect-no-changes", "--non-interactive");
            expect(drift.status).not.toBe(0);
            await stack.stack.up({ refresh: true, onOutput: () => undefined });
            const [row] = await query("tracksolid_db", "SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = 'late'");
            expect(row.owner).toBe("tracksolid_migrate");
        });

        it("giving up management leaves every row and every pre-existing role in place, even unprotected", async () => {
            const services = await query(
                "postgres",
                "SELECT rolname FROM pg_roles WHERE rolname LIKE '%\\_app' OR rolname LIKE '%\\_migrate' ORDER BY 1",
            );
            await stack.setConfig({ servers: server(), apps: {} }, secrets().slice(0, 1));
            await stack.stack.up({ onOutput: () => undefined });
            expect(await fingerprint()).toEqual(before);
            const databases = await query(
                "postgres",
                "SELECT datname FROM pg_database WHERE datname IN ('tracksolid_db','fleet_platform','grafana') ORDER BY 1",
            );
            expect(databases.map((d) => d.datname)).toEqual(["fleet_platform", "grafana", "tracksolid_db"]);
            const roles = await query(
                "postgres",
                `SELECT rolname FROM pg_roles WHERE rolname = ANY('{${[...OTHER_TOOLS, "grafana"].join(",")}}')`,
            );
            expect(roles).toHaveLength(5);
            // The services' roles stay too: they own the moved objects, and services log in with them.
            expect(
                await query(
                    "postgres",
                    "SELECT rolname FROM pg_roles WHERE rolname LIKE '%\\_app' OR rolname LIKE '%\\_migrate' ORDER BY 1",
                ),
            ).toEqual(services);
            expect(await query("grafana", "SELECT count(*)::int AS n FROM dashboard", "grafana", GRAFANA_PW)).toEqual([{ n: 3 }]);
        });
    });
});
