/**
 * Adoption without a server: the config's `adopt`, `roles` and `schemas`, the
 * refusals and the plan the preflight prints from what a server holds, and
 * the guard's refusal of names made outside the stack. The e2e test
 * (test/e2e/brownfield.test.ts) runs the same against a real server.
 */
import { describe, expect, it } from "vitest";
import { attributeChanges, RoleAttributes, wantedAttributes } from "../../components/adoptedRole";
import { existingProblem } from "../../components/dataLossGuard";
import { roleListFor, roleNamesFor } from "../../components/identifiers";
import { roleSettingsKey, roleSettingsPlan } from "../../components/roleSettings";
import {
    adminPowerProblems,
    adoptionPlan,
    adoptionProblems,
    passwordMatchesVerifier,
    ServerAdoptionFacts,
    unadoptedExisting,
} from "../../program/adoption";
import { ConfigError, parseStackConfig } from "../../program/config";
import { footprintOf } from "../../program/footprint";
import { managedRoleLimits } from "../../program/stack";
import { baseConfig } from "../badInputs";

const adopting = (apps: Record<string, unknown>, readFile?: (p: string) => string) => {
    const config = baseConfig();
    config.apps = apps;
    return readFile ? parseStackConfig(config, readFile) : parseStackConfig(config);
};

function issuesOf(apps: Record<string, unknown>): string[] {
    try {
        adopting(apps);
    } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    }
    throw new Error("expected the config to be rejected");
}

const TRACKSOLID = {
    database: "tracksolid_db",
    roles: { runtime: "worker_app" },
    access: "readonly",
    schemas: ["tracksolid", "reporting"],
    adopt: { database: true, moveObjects: { schemas: ["tracksolid", "reporting"] }, keepConnect: ["grafana_ro"] },
    extraRoles: { webhook_app: { access: "readwrite", runsMigrations: true } },
};

describe("role names", () => {
    it("are derived from the app unless renamed, the alternate login following the runtime name", () => {
        expect(roleNamesFor("grafana")).toEqual({
            migrate: "grafana_migrate",
            runtime: "grafana_app",
            alternateRuntime: "grafana_app_alt",
        });
        expect(roleNamesFor("grafana", { migrate: "grafana" })).toEqual({
            migrate: "grafana",
            runtime: "grafana_app",
            alternateRuntime: "grafana_app_alt",
        });
        expect(roleListFor("x", true, { runtime: "worker_app" })).toEqual(["x_migrate", "worker_app", "worker_app_alt"]);
    });
});

describe("adopt in the stack config", () => {
    it("resolves what is adopted, the owners whose objects move defaulting to the server's admin", () => {
        const app = adopting({ tracksolid: TRACKSOLID }).apps.tracksolid;
        expect(app.adopt).toEqual({
            database: true,
            roles: {},
            // One object per short transaction, waiting 2 s for each lock and up to 60 s in all.
            moveObjects: { schemas: ["tracksolid", "reporting"], from: ["pulumi_admin"], lockTimeoutMs: 2000, maxWaitSeconds: 60 },
            keepConnect: ["grafana_ro"],
        });
        expect(app.schemas).toEqual(["tracksolid", "reporting"]);
        expect(app.extraRoles.webhook_app.runsMigrations).toBe(true);
        const f = footprintOf(app);
        expect(f.roles.map((r) => r.name)).toEqual(["tracksolid_migrate", "worker_app", "webhook_app"]);
        expect(f.databaseAdopted).toBe(true);
        // Renamed roles are the ones the budget counts.
        expect(Object.keys(managedRoleLimits([app]))).toEqual(["tracksolid_migrate", "worker_app", "webhook_app"]);
    });

    it("keeps a supplied password, reads one from a file, or leaves it to be generated", () => {
        const apps = {
            grafana: {
                roles: { migrate: "grafana" },
                adopt: { database: true, roles: { grafana: { password: "known" }, grafana_app: { newPassword: true } } },
            },
            authentik: { adopt: { roles: { authentik_app: { passwordFile: "pw.txt" } } } },
        };
        const config = adopting(apps, (p) => (p === "pw.txt" ? "from-file\nsecond line" : ""));
        expect(config.apps.grafana.adopt?.roles).toEqual({ grafana: { password: "known" }, grafana_app: {} });
        expect(config.apps.authentik.adopt?.roles).toEqual({ authentik_app: { password: "from-file" } });
    });

    it.each([
        [
            "a password left unsaid",
            { grafana: { adopt: { roles: { grafana_app: {} } } } },
            "apps.grafana.adopt.roles.grafana_app: expected how to handle the role's password: password (secret, kept as is), passwordFile (its first line, kept), or newPassword: true",
        ],
        [
            "two ways of handling a password",
            { grafana: { adopt: { roles: { grafana_app: { password: "a", newPassword: true } } } } },
            "apps.grafana.adopt.roles.grafana_app: expected one of password, passwordFile or newPassword, got more than one",
        ],
        [
            "a role that is not the app's",
            { grafana: { adopt: { roles: { postgres_like: { newPassword: true } } } } },
            'apps.grafana.adopt.roles.postgres_like: expected one of the app\'s own roles (grafana_migrate, grafana_app), got "postgres_like"',
        ],
        [
            "objects moving in a database that is not adopted",
            { grafana: { adopt: { moveObjects: { schemas: ["public"] } } } },
            "apps.grafana.adopt.moveObjects: moves objects of an existing database: set adopt.database: true too",
        ],
        [
            "objects moving out of a schema the app does not use",
            { grafana: { adopt: { database: true, moveObjects: { schemas: ["reporting"] } } } },
            "apps.grafana.adopt.moveObjects.schemas: reporting is not in apps.grafana.schemas; list it there too",
        ],
        [
            "system objects moving",
            { grafana: { adopt: { database: true, moveObjects: { schemas: ["pg_catalog"] } } } },
            `apps.grafana.adopt.moveObjects.schemas: "pg_catalog" is PostgreSQL's own schema`,
        ],
        [
            "a lock wait of zero",
            { grafana: { adopt: { database: true, moveObjects: { schemas: ["public"], lockTimeoutMs: 0 } } } },
            "apps.grafana.adopt.moveObjects.lockTimeoutMs: expected a lock wait in milliseconds from 1 to 60000 (services' reads of a table queue behind it that long), got 0",
        ],
        [
            "a total wait given as text",
            { grafana: { adopt: { database: true, moveObjects: { schemas: ["public"], maxWaitSeconds: "60s" } } } },
            'apps.grafana.adopt.moveObjects.maxWaitSeconds: expected seconds from 0 to 3600 (0: one try per object, no retries), got "60s"',
        ],
        ["a schema listed twice", { grafana: { schemas: ["app", "app"] } }, 'apps.grafana.schemas: "app" is listed twice'],
        [
            "adopting on a dedicated container",
            { grafana: { placement: "dedicated", adopt: { database: true } } },
            "apps.grafana.adopt: applies to shared placement only (a dedicated container starts empty)",
        ],
        [
            "a misspelt adopt key",
            { grafana: { adopt: { databse: true } } },
            "apps.grafana.adopt.databse: unknown key databse; did you mean database?",
        ],
    ])("refuses %s, by its path", (_what, apps, message) => {
        expect(issuesOf(apps).join("\n")).toContain(message);
    });
});

const attributes = (more: Partial<RoleAttributes> = {}): RoleAttributes => ({
    login: true,
    superuser: false,
    createDatabase: false,
    createRole: false,
    replication: false,
    bypassRowLevelSecurity: false,
    inherit: true,
    connectionLimit: -1,
    settings: {},
    memberOf: [],
    ...more,
});

describe("attributeChanges", () => {
    it("lists what adopting changes on a role, and nothing for one already in shape", () => {
        const wanted = wantedAttributes({ connectionLimit: 10, memberOf: ["shop_migrate"], statementTimeoutMs: 30000 });
        expect(attributeChanges(attributes({ superuser: true, createDatabase: true }), wanted)).toEqual([
            "SUPERUSER -> NOSUPERUSER",
            "CREATEDB -> NOCREATEDB",
            "CONNECTION LIMIT none -> 10",
            "statement_timeout (unset) -> 30000",
            "member of shop_migrate (new)",
        ]);
        expect(attributeChanges(wanted, wanted)).toEqual([]);
    });
});

/** A server holding tracksolid_db as seed 002 has it, read as the preflight would. */
function facts(more: Partial<ServerAdoptionFacts> = {}): ServerAdoptionFacts {
    return {
        databases: ["postgres", "tracksolid_db"],
        roles: { grafana_ro: attributes({ connectionLimit: 5 }), pulumi_admin: attributes({ superuser: true }) },
        adopted: {
            tracksolid: {
                owner: "postgres",
                schemas: ["tracksolid", "reporting"],
                schemaProblems: { tracksolid: undefined, reporting: undefined },
                movable: [
                    { kind: "TABLE", name: "tracksolid.positions", owner: "pulumi_admin" },
                    { kind: "VIEW", name: "reporting.v_speeds", owner: "pulumi_admin" },
                ],
                staying: 1,
                objectCounts: { tracksolid: { tables: 1, sequences: 1 }, reporting: { tables: 2, sequences: 0 } },
                canConnect: ["grafana_ro", "worker_app"],
                publicSchemaOpen: false,
            },
        },
        ...more,
    };
}

describe("adoptionProblems and adoptionPlan", () => {
    const apps = Object.values(adopting({ tracksolid: TRACKSOLID }).apps);

    it("finds nothing wrong when everything adopted exists and nobody loses CONNECT", () => {
        expect(adoptionProblems("lab", apps, facts(), "pulumi_admin")).toEqual([]);
    });

    it("refuses a missing database, a missing schema, an extension schema and roles that would lose CONNECT", () => {
        expect(adoptionProblems("lab", apps, facts({ adopted: {} }), "pulumi_admin")).toEqual([
            "apps.tracksolid.adopt.database: database tracksolid_db does not exist on server lab, so it cannot be adopted; remove adopt.database to have it created, or set apps.tracksolid.database to the existing one",
        ]);
        const db = facts().adopted.tracksolid;
        const problems = adoptionProblems(
            "lab",
            apps,
            facts({
                adopted: {
                    tracksolid: {
                        ...db,
                        schemas: ["tracksolid"],
                        schemaProblems: { tracksolid: "schema tracksolid belongs to extension timescaledb: its objects never move" },
                        canConnect: ["grafana_ro", "metabase"],
                    },
                },
            }),
            "pulumi_admin",
        );
        expect(problems).toEqual([
            "apps.tracksolid.schemas: schema reporting does not exist in database tracksolid_db on server lab; remove it from schemas, or create it first (an adopted database's schemas are its own)",
            "apps.tracksolid.adopt.moveObjects.schemas: schema tracksolid belongs to extension timescaledb: its objects never move; remove it from moveObjects.schemas",
            expect.stringContaining(
                "apps.tracksolid.adopt: adopting database tracksolid_db revokes CONNECT from PUBLIC, and metabase can connect to it today.",
            ),
        ]);
    });

    it("refuses an adopted role that does not exist", () => {
        const grafana = Object.values(adopting({ grafana: { adopt: { roles: { grafana_app: { newPassword: true } } } } }).apps);
        expect(adoptionProblems("lab", grafana, facts(), "pulumi_admin")).toEqual([
            "apps.grafana.adopt.roles.grafana_app: role grafana_app does not exist on server lab; remove it from adopt.roles to have it created",
        ]);
    });

    it("says what adopting changes: owner, CONNECT, new roles, moved objects, grants and search_path", () => {
        const [plan] = adoptionPlan("lab", apps, facts());
        expect(plan.split("\n")).toEqual([
            "apps.tracksolid on lab: adoption changes these (nothing is dropped or recreated):",
            "  database tracksolid_db: kept with its data; owner postgres -> tracksolid_migrate; CONNECT revoked from PUBLIC, granted to the app's roles and grafana_ro",
            "  role tracksolid_migrate: created (generated password, CONNECTION LIMIT 2)",
            "  role worker_app: created (generated password, CONNECTION LIMIT 10)",
            "  role webhook_app: created (generated password, CONNECTION LIMIT 10)",
            "  ownership: 1 table, 1 view in tracksolid, reporting owned by pulumi_admin -> tracksolid_migrate; 1 owned by other roles stay theirs; extension and system objects are never touched; one object per transaction, each waiting at most 2000 ms for its lock, 60 s in all",
            "  grants to worker_app: SELECT in tracksolid, reporting on what is there (tracksolid: 1 existing tables/views, 1 sequences; reporting: 2 existing tables/views, 0 sequences; other table privileges it has there are revoked) and on what tracksolid_migrate creates later",
            "  grants to webhook_app: DELETE, INSERT, SELECT, UPDATE in tracksolid, reporting on what is there (tracksolid: 1 existing tables/views, 1 sequences; reporting: 2 existing tables/views, 0 sequences; other table privileges it has there are revoked) and on what tracksolid_migrate creates later",
            "  webhook_app runs as tracksolid_migrate in tracksolid_db (role setting): what its migrations create is tracksolid_migrate's",
            "  search_path in tracksolid_db of tracksolid_migrate, worker_app, webhook_app: tracksolid, reporting, public",
        ]);
    });

    it("shows an adopted role's changes and how its password is handled", () => {
        const grafana = Object.values(
            adopting({ grafana: { roles: { migrate: "grafana" }, adopt: { database: true, roles: { grafana: { password: "known" } } } } })
                .apps,
        );
        const server = facts({
            databases: ["grafana"],
            roles: { grafana: attributes({ createDatabase: true }) },
            adopted: {
                grafana: { ...facts().adopted.tracksolid, owner: "grafana", schemas: ["public"], canConnect: [], publicSchemaOpen: true },
            },
        });
        const [plan] = adoptionPlan("lab", grafana, server);
        expect(plan).toContain("database grafana: kept with its data; owner grafana (unchanged)");
        expect(plan).toContain("CREATE on schema public revoked from PUBLIC (granted to grafana)");
        expect(plan).toContain(
            "role grafana (existing): CREATEDB -> NOCREATEDB; CONNECTION LIMIT none -> 2; password kept (the supplied one; the admin cannot read pg_authid to check it)",
        );
    });
});

describe("adoptionPlan after the up that adopted", () => {
    const adoptedGrafana = () =>
        Object.values(
            adopting({
                grafana: {
                    roles: { migrate: "grafana", runtime: "grafana_rw" },
                    adopt: { database: true, roles: { grafana: { password: "known" }, grafana_rw: { newPassword: true } } },
                },
            }).apps,
        );
    const adoptedAsConfigured = (runtimeSettings: Record<string, string>) =>
        facts({
            databases: ["grafana"],
            roles: {
                grafana: attributes({ connectionLimit: 2 }),
                grafana_rw: attributes({
                    connectionLimit: 10,
                    settings: { statement_timeout: "30000", idle_in_transaction_session_timeout: "60000", ...runtimeSettings },
                }),
            },
            adopted: {
                grafana: { ...facts().adopted.tracksolid, owner: "grafana", schemas: ["public"], canConnect: [], movable: [] },
            },
        });

    it("prints nothing when the next up changes nothing of what was adopted", () => {
        expect(
            adoptionPlan("lab", adoptedGrafana(), adoptedAsConfigured({ idle_session_timeout: "600000" }), new Set(["grafana"])),
        ).toEqual([]);
    });

    it("lists idle_session_timeout when it differs, before and after the adoption", () => {
        const server = adoptedAsConfigured({ idle_session_timeout: "0" });
        expect(adoptionPlan("lab", adoptedGrafana(), server, new Set(["grafana"]))).toEqual([
            "apps.grafana on lab: the next up changes these of what it adopted:\n  role grafana_rw (adopted): idle_session_timeout 0 -> 600000",
        ]);
        const [first] = adoptionPlan("lab", adoptedGrafana(), server);
        expect(first).toContain("role grafana_rw (existing): idle_session_timeout 0 -> 600000; password replaced");
    });

    it("prints the full plan for an app the last up did not have", () => {
        const [plan] = adoptionPlan("lab", adoptedGrafana(), adoptedAsConfigured({ idle_session_timeout: "600000" }), new Set(["other"]));
        expect(plan).toContain("adoption changes these (nothing is dropped or recreated)");
    });
});

describe("a supplied password", () => {
    // Made with Python's hashlib (RFC 7677's salt and iterations), not with the code under test.
    const SCRAM =
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
    const MD5 = "md5e4f70fb0b8f2745aa7a69557c80cbd0c"; // md5("pencil" + "bob")

    it("is checked against the server's SCRAM or md5 verifier", () => {
        expect(passwordMatchesVerifier(SCRAM, "user", "pencil")).toBe(true);
        expect(passwordMatchesVerifier(SCRAM, "user", "pencil ")).toBe(false);
        expect(passwordMatchesVerifier(MD5, "bob", "pencil")).toBe(true);
        expect(passwordMatchesVerifier(MD5, "alice", "pencil")).toBe(false);
        expect(passwordMatchesVerifier("plain", "bob", "plain")).toBe(false);
    });

    it("that is not the current one is refused before it could lock anyone out", () => {
        const grafana = Object.values(
            adopting({ grafana: { roles: { migrate: "grafana" }, adopt: { roles: { grafana: { password: "typo" } } } } }).apps,
        );
        const server = facts({ roles: { grafana: attributes() }, verifiers: { grafana: SCRAM } });
        expect(adoptionProblems("lab", grafana, server, "pulumi_admin")).toEqual([
            expect.stringContaining(
                "apps.grafana.adopt.roles.grafana: the supplied password is not role grafana's current one on server lab (checked against its stored verifier)",
            ),
        ]);
        // Unreadable verifiers (a non-superuser admin): not checked, and the plan says so.
        expect(adoptionProblems("lab", grafana, facts({ roles: { grafana: attributes() } }), "pulumi_admin")).toEqual([]);
    });
});

describe("a non-superuser admin", () => {
    const apps = adopting({
        tracksolid: { ...TRACKSOLID, adopt: { ...TRACKSOLID.adopt, moveObjects: { schemas: ["tracksolid"], from: ["postgres"] } } },
        grafana: {
            roles: { migrate: "grafana" },
            adopt: { roles: { grafana: { newPassword: true }, grafana_app: { newPassword: true } } },
        },
    }).apps;
    const server = (versionNum: number) =>
        facts({
            roles: { grafana: attributes(), grafana_app: attributes({ superuser: true }), postgres: attributes({ superuser: true }) },
            adminPowers: { versionNum, adminOf: [], usableRoles: [] },
        });

    it("is told what it cannot do, and what to run as a superuser instead", () => {
        expect(adminPowerProblems("lab", apps.grafana, server(160000), "provisioner")).toEqual([
            "apps.grafana.adopt.roles.grafana: admin provisioner lacks ADMIN OPTION on role grafana, which PostgreSQL 16+ requires to alter it; run GRANT grafana TO provisioner WITH ADMIN OPTION, INHERIT FALSE, SET FALSE; as a superuser first",
            "apps.grafana.adopt.roles.grafana_app: role grafana_app is a superuser and admin provisioner is not, so it cannot make it NOSUPERUSER; run ALTER ROLE grafana_app NOSUPERUSER; as a superuser first",
        ]);
        expect(adminPowerProblems("lab", apps.tracksolid, server(150000), "provisioner")).toEqual([
            "apps.tracksolid.adopt.moveObjects.from: admin provisioner cannot take objects owned by postgres (it does not have postgres's privileges); move them with a superuser admin, or run the ALTER ... OWNER TO statements as postgres",
        ]);
    });

    it("needs no ADMIN OPTION before PostgreSQL 16, and a superuser admin is never asked", () => {
        expect(adminPowerProblems("lab", apps.grafana, server(150000), "provisioner")).toEqual([
            expect.stringContaining("role grafana_app is a superuser"),
        ]);
        expect(adminPowerProblems("lab", apps.grafana, { ...server(160000), adminPowers: undefined }, "postgres")).toEqual([]);
    });
});

describe("names that exist without adopt", () => {
    const grafana = adopting({ grafana: {} }).apps.grafana;

    it("are listed per app, adopted ones left out", () => {
        const server = facts({ databases: ["grafana"], roles: { grafana_app: attributes() } });
        expect(unadoptedExisting(grafana, server)).toEqual(["database grafana", "role grafana_app"]);
        const adopted = adopting({ grafana: { adopt: { database: true, roles: { grafana_app: { newPassword: true } } } } }).apps.grafana;
        expect(unadoptedExisting(adopted, server)).toEqual([]);
    });

    const footprint = { server: "lab", placement: "shared", database: "grafana", roles: ["grafana_migrate", "grafana_app"] };
    const news = (existing: Record<string, string[]>) => ({ protect: false, retiredApps: [], apps: { grafana: footprint }, existing });

    it("are refused by the guard with both ways forward when the stack did not make them", () => {
        const message = existingProblem(undefined, news({ grafana: ["database grafana", "role grafana_app"] }));
        expect(message).toContain("apps.grafana: database grafana, role grafana_app already exist on server lab, made outside this stack.");
        expect(message).toContain(
            "Adopt them (apps.grafana.adopt.database: true; apps.grafana.adopt.roles.grafana_app: {password | passwordFile | newPassword: true}), or choose another name (apps.grafana.database; apps.grafana.roles (migrate, runtime) or the extra role's name).",
        );
    });

    it("pass when the stack made them itself (even an up that failed half-way), on the same server", () => {
        expect(
            existingProblem({ apps: { grafana: footprint } }, news({ grafana: ["database grafana", "role grafana_app"] })),
        ).toBeUndefined();
        const elsewhere = { apps: { grafana: { ...footprint, server: "old" } } };
        expect(existingProblem(elsewhere, news({ grafana: ["role grafana_app"] }))).toContain("role grafana_app already exists");
    });
});

describe("per-database role settings", () => {
    it("are told apart from role-wide ones, and role-wide keys stay as they were", () => {
        const wide = { role: "a", settings: { idle_session_timeout: "1" } };
        const inDb = { role: "a", database: "d", settings: { search_path: "x, y" } };
        expect(roleSettingsKey([wide])).toBe(JSON.stringify([["a", [["idle_session_timeout", "1"]]]]));
        expect(roleSettingsKey([wide, inDb])).not.toBe(roleSettingsKey([wide]));
        expect(roleSettingsPlan([inDb], [wide])).toEqual([
            { role: "a", database: "d", set: {}, reset: ["search_path"] },
            { role: "a", database: undefined, set: { idle_session_timeout: "1" }, reset: [] },
        ]);
    });
});
