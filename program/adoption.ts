/**
 * Adoption, as the server really is: before anything is declared, the
 * preflight reads what the config's apps would create or take over on each
 * shared server, and this module turns it into
 *
 * - refusals: an adopted database or role that does not exist, a schema that
 *   does not exist in an adopted database, objects that would move out of a
 *   system or extension schema, roles that would lose CONNECT without the
 *   config saying so;
 * - names that exist but are not adopted (the data-loss guard refuses those
 *   the stack did not create itself: it alone remembers what it created);
 * - the plan: what adopting changes on the server, printed by the preview
 *   before anything is applied.
 */
import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from "node:crypto";
import type { Client } from "pg";
import { AdminConnection, withAdminClient } from "../components/adminConnection";
import { RUNTIME_PRIVILEGES } from "../components/appDatabase";
import { attributeChanges, readRolesAttributes, RoleAttributes, wantedAttributes } from "../components/adoptedRole";
import { databaseOwner, publicSchemaCreate } from "../components/databaseAccess/database";
import { searchPathFor, sessionSettingsIn } from "../components/schemaPrivileges";
import { countByKind, movableObjects, MovableObject, schemaProblem } from "../components/objectOwnership";
import {
    adminStandingQuery,
    connectingRolesQuery,
    databaseNamesQuery,
    objectCountsQuery,
    othersOwnQuery,
    passwordVerifiersQuery,
    versionQuery,
} from "../components/sql/catalog";
import { schemasQuery } from "../components/sql/schemas";
import { ResolvedApp } from "./config";
import { Footprint, footprintOf, migrateRoleOf } from "./footprint";

/** What one adopted database holds, as the plan and the refusals need it. */
export interface AdoptedDatabaseFacts {
    readonly owner: string;
    /** Of the app's schemas (and moveObjects schemas), those that exist. */
    readonly schemas: readonly string[];
    /** Per moveObjects schema, why its objects cannot move (undefined: they can). */
    readonly schemaProblems: Readonly<Record<string, string | undefined>>;
    /** The objects that would move. */
    readonly movable: readonly MovableObject[];
    /** Objects in the moveObjects schemas owned by someone else: they stay. */
    readonly staying: number;
    /** Tables (views included) and sequences per app schema, for the grants on existing objects. */
    readonly objectCounts: Readonly<Record<string, { tables: number; sequences: number }>>;
    /** Login roles (not superusers) that can CONNECT today. */
    readonly canConnect: readonly string[];
    /** Whether PUBLIC may create in schema public (PostgreSQL 14's default). */
    readonly publicSchemaOpen: boolean;
}

/** What a shared server holds of what the config names. */
export interface ServerAdoptionFacts {
    readonly databases: readonly string[];
    /** Attributes of every role the config names (app roles, keepConnect, moveObjects.from) that exists. */
    readonly roles: Readonly<Record<string, RoleAttributes>>;
    /**
     * Per adopted role with a supplied password, the server's stored verifier
     * (`pg_authid.rolpassword`; null: it has no password); absent when the admin may not read it.
     */
    readonly verifiers?: Readonly<Record<string, string | null>>;
    /** What a non-superuser admin may do to the roles adoption alters or takes objects from; absent for a superuser. */
    readonly adminPowers?: AdminPowers;
    /** Per adopted app, its database's facts (absent when the database does not exist). */
    readonly adopted: Readonly<Record<string, AdoptedDatabaseFacts>>;
}

/** A non-superuser admin's standing towards the roles the config names. */
export interface AdminPowers {
    readonly versionNum: number;
    /** Roles it holds ADMIN OPTION on (directly): on 16+ it may alter only those. */
    readonly adminOf: readonly string[];
    /** Roles whose privileges it has (member with INHERIT): it may take their objects. */
    readonly usableRoles: readonly string[];
}

/** The role-wide settings a plan compares: the AdoptedRole's, and idle_session_timeout (set by the app's RoleSettings). */
const SETTINGS = ["statement_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout"];

/** Reads the facts of one adopted database, in a session of its own. */
async function readDatabaseFacts(connection: AdminConnection, app: ResolvedApp): Promise<AdoptedDatabaseFacts> {
    const moveSchemas = app.adopt?.moveObjects?.schemas ?? [];
    return withAdminClient(
        connection,
        async (client: Client) => {
            const wanted = [...new Set([...app.schemas, ...moveSchemas])];
            const present = await client.query<{ schema: string }>(schemasQuery(wanted));
            const schemas = present.rows.map((r) => r.schema);
            const schemaProblems: Record<string, string | undefined> = {};
            for (const schema of moveSchemas) schemaProblems[schema] = await schemaProblem(client, schema);
            const movableSchemas = moveSchemas.filter((s) => schemaProblems[s] === undefined);
            const from = app.adopt?.moveObjects?.from ?? [];
            const movable = movableSchemas.length > 0 ? await movableObjects(client, movableSchemas, from) : [];
            const others = await client.query<{ n: number }>(othersOwnQuery(movableSchemas, [...from, migrateRoleOf(footprintOf(app))]));
            const counts = await client.query<{ schema: string; tables: number; sequences: number }>(objectCountsQuery(app.schemas));
            const connect = await client.query<{ rolname: string }>(connectingRolesQuery());
            const open = await publicSchemaCreate(client);
            const owner = await databaseOwner(client, app.database);
            return {
                owner: owner!,
                schemas,
                schemaProblems,
                movable,
                staying: others.rows[0]?.n ?? 0,
                objectCounts: Object.fromEntries(counts.rows.map((r) => [r.schema, { tables: r.tables, sequences: r.sequences }])),
                canConnect: connect.rows.map((r) => r.rolname),
                publicSchemaOpen: open?.open ?? false,
            };
        },
        app.database,
    );
}

/**
 * Reads what the server holds of the config's apps on it: one session, plus one
 * per adopted database that exists (sessions run one at a time: adminConnection.ts).
 */
export async function readAdoptionFacts(connection: AdminConnection, apps: readonly ResolvedApp[]): Promise<ServerAdoptionFacts> {
    const names = new Set<string>();
    for (const app of apps) {
        for (const role of footprintOf(app).roles) names.add(role.name);
        for (const role of [...(app.adopt?.keepConnect ?? []), ...(app.adopt?.moveObjects?.from ?? [])]) names.add(role);
    }
    const roles: Record<string, RoleAttributes> = {};
    const supplied = apps.flatMap((a) =>
        Object.entries(a.adopt?.roles ?? {})
            .filter(([, spec]) => spec.password !== undefined)
            .map(([r]) => r),
    );
    let verifiers: Record<string, string | null> | undefined = {};
    let adminPowers: AdminPowers | undefined;
    const databases = await withAdminClient(connection, async (client) => {
        const found = await readRolesAttributes(client, [...names], SETTINGS);
        for (const name of names) if (found.has(name)) roles[name] = found.get(name)!;
        if (supplied.length > 0) {
            try {
                const rows = await client.query<{ rolname: string; rolpassword: string | null }>(passwordVerifiersQuery(supplied));
                for (const r of rows.rows) verifiers![r.rolname] = r.rolpassword;
            } catch {
                verifiers = undefined; // not a superuser: pg_authid is closed to it
            }
        }
        if (!connection.superuser) {
            const me = await client.query<{ version_num: number; role: string; admin: boolean; usable: boolean }>(
                adminStandingQuery([...names]),
            );
            const versionNum = me.rows[0]?.version_num ?? (await client.query<{ v: number }>(versionQuery())).rows[0].v;
            adminPowers = {
                versionNum,
                adminOf: me.rows.filter((r) => r.admin).map((r) => r.role),
                usableRoles: me.rows.filter((r) => r.usable).map((r) => r.role),
            };
        }
        return (await client.query<{ datname: string }>(databaseNamesQuery())).rows.map((r) => r.datname);
    });
    const adopted: Record<string, AdoptedDatabaseFacts> = {};
    for (const app of apps) {
        if (app.adopt?.database && databases.includes(app.database)) adopted[app.name] = await readDatabaseFacts(connection, app);
    }
    return { databases, roles, adopted, ...(verifiers ? { verifiers } : {}), ...(adminPowers ? { adminPowers } : {}) };
}

/**
 * Whether `password` is the one a stored verifier was made from: SCRAM-SHA-256
 * (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, RFC 5802/7677)
 * or the older `md5` + md5(password + role). Lets adoption keep a supplied
 * password only when it really is the current one.
 */
export function passwordMatchesVerifier(verifier: string, role: string, password: string): boolean {
    const scram = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
    if (scram) {
        const salted = pbkdf2Sync(password, Buffer.from(scram[2], "base64"), Number(scram[1]), 32, "sha256");
        const storedKey = createHash("sha256").update(createHmac("sha256", salted).update("Client Key").digest()).digest();
        const expected = Buffer.from(scram[3], "base64");
        return expected.length === storedKey.length && timingSafeEqual(expected, storedKey);
    }
    if (verifier.startsWith("md5"))
        return (
            verifier ===
            "md5" +
                createHash("md5")
                    .update(password + role)
                    .digest("hex")
        );
    return false;
}

/** One app's names that exist on the server without being adopted, as `role x` / `database y`. */
export function unadoptedExisting(app: ResolvedApp, facts: ServerAdoptionFacts): string[] {
    const f = footprintOf(app);
    return [
        ...(!f.databaseAdopted && facts.databases.includes(f.database) ? [`database ${f.database}`] : []),
        ...f.roles.filter((r) => !r.adopted && r.name in facts.roles).map((r) => `role ${r.name}`),
    ];
}

/** Every reason the config's adoption cannot go ahead on this server, each naming its config path. */
export function adoptionProblems(server: string, apps: readonly ResolvedApp[], facts: ServerAdoptionFacts, admin: string): string[] {
    const problems: string[] = [];
    const managed = new Set(apps.flatMap((a) => footprintOf(a).roles.map((r) => r.name)));
    for (const app of apps) {
        const adopt = app.adopt;
        if (!adopt) continue;
        const at = `apps.${app.name}.adopt`;
        const f = footprintOf(app);
        for (const role of f.roles.filter((r) => r.adopted && !(r.name in facts.roles))) {
            problems.push(
                `${at}.roles.${role.name}: role ${role.name} does not exist on server ${server}; remove it from adopt.roles to have it created`,
            );
        }
        problems.push(...adminPowerProblems(server, app, facts, admin));
        // Keeping a password means keeping the one in use: a typo would lock out whoever uses it.
        for (const [role, spec] of Object.entries(adopt.roles)) {
            const verifier = facts.verifiers?.[role];
            if (spec.password === undefined || verifier === undefined || !(role in facts.roles)) continue;
            if (verifier === null || !passwordMatchesVerifier(verifier, role, spec.password)) {
                problems.push(
                    `${at}.roles.${role}: the supplied password is not role ${role}'s current one on server ${server} ` +
                        `(${verifier === null ? "it has none" : "checked against its stored verifier"}); setting it would lock out whoever logs in with the current one. ` +
                        `Supply the current password, or set newPassword: true to replace it deliberately`,
                );
            }
        }
        for (const role of [...adopt.keepConnect, ...(adopt.moveObjects?.from ?? [])]) {
            if (!(role in facts.roles)) problems.push(`${at}: role ${role} does not exist on server ${server}`);
        }
        if (!adopt.database) continue;
        const db = facts.adopted[app.name];
        if (!db) {
            problems.push(
                `${at}.database: database ${app.database} does not exist on server ${server}, so it cannot be adopted; ` +
                    `remove adopt.database to have it created, or set apps.${app.name}.database to the existing one`,
            );
            continue;
        }
        for (const schema of app.schemas.filter((s) => !db.schemas.includes(s))) {
            problems.push(
                `apps.${app.name}.schemas: schema ${schema} does not exist in database ${app.database} on server ${server}; ` +
                    `remove it from schemas, or create it first (an adopted database's schemas are its own)`,
            );
        }
        for (const [schema, problem] of Object.entries(db.schemaProblems)) {
            if (problem && db.schemas.includes(schema))
                problems.push(`${at}.moveObjects.schemas: ${problem}; remove it from moveObjects.schemas`);
        }
        // Locking CONNECT down takes it from PUBLIC: say who relies on it rather than cut them off.
        const keeps = new Set([...managed, ...adopt.keepConnect, admin, migrateRoleOf(f)]);
        const losing = db.canConnect.filter((r) => !keeps.has(r));
        if (losing.length > 0) {
            problems.push(
                `${at}: adopting database ${app.database} revokes CONNECT from PUBLIC, and ${losing.join(", ")} can connect to it today. ` +
                    `List those that must keep it under ${at}.keepConnect; revoke CONNECT from the others by hand first if they should lose it ` +
                    `(REVOKE CONNECT ON DATABASE ${app.database} FROM PUBLIC; then GRANT it to whom it is due)`,
            );
        }
    }
    return problems;
}

/** What adopting changes on the server, app by app: the lines the preview prints. */
export function adoptionPlan(
    server: string,
    apps: readonly ResolvedApp[],
    facts: ServerAdoptionFacts,
    adoptedBefore: ReadonlySet<string> = new Set(),
): string[] {
    return apps
        .filter((a) => a.adopt)
        .flatMap((app) => {
            const plan = adoptedBefore.has(app.name)
                ? changesAfterAdoption(server, app, footprintOf(app), facts)
                : planOf(server, app, footprintOf(app), facts);
            return plan === undefined ? [] : [plan];
        });
}

/** An adopted role's attribute changes, as `up` would make them (its RoleSettings' idle_session_timeout included). */
function adoptedRoleChanges(app: ResolvedApp, role: Footprint["roles"][number], migrate: string, before: RoleAttributes): string[] {
    const isRuntime = role.name !== migrate;
    const spec = role.origin === "extra" ? app.extraRoles[role.name] : app;
    const after = wantedAttributes({
        connectionLimit: role.connectionLimit,
        memberOf: role.origin === "extra" && app.extraRoles[role.name].runsMigrations ? [migrate] : [],
        ...(isRuntime
            ? { statementTimeoutMs: spec.statementTimeoutMs, idleInTransactionSessionTimeoutMs: spec.idleInTransactionSessionTimeoutMs }
            : {}),
    });
    if (isRuntime) after.settings.idle_session_timeout = String(spec.idleSessionTimeoutMs);
    return attributeChanges({ ...before, memberOf: before.memberOf }, after);
}

/**
 * For an app the last `up` adopted already: what the next `up` would still
 * change of what it took over (owner, role attributes, objects to move), or
 * undefined when nothing, so a no-op preview prints no plan.
 */
function changesAfterAdoption(server: string, app: ResolvedApp, f: Footprint, facts: ServerAdoptionFacts): string | undefined {
    const migrate = migrateRoleOf(f);
    const lines: string[] = [];
    const db = facts.adopted[app.name];
    if (app.adopt!.database && db) {
        if (db.owner !== migrate) lines.push(`  database ${app.database}: owner ${db.owner} -> ${migrate}`);
        if (db.publicSchemaOpen)
            lines.push(`  database ${app.database}: CREATE on schema public revoked from PUBLIC (granted to ${migrate})`);
        if (app.adopt!.moveObjects && db.movable.length > 0) lines.push(`  ownership: ${movableCounts(db).join(", ")} -> ${migrate}`);
    }
    for (const role of f.roles.filter((r) => r.adopted && r.name in facts.roles)) {
        const changes = adoptedRoleChanges(app, role, migrate, facts.roles[role.name]);
        if (changes.length > 0) lines.push(`  role ${role.name} (adopted): ${changes.join("; ")}`);
    }
    if (lines.length === 0) return undefined;
    return [`apps.${app.name} on ${server}: the next up changes these of what it adopted:`, ...lines].join("\n");
}

const movableCounts = (db: AdoptedDatabaseFacts) =>
    Object.entries(countByKind(db.movable)).map(([kind, n]) => `${n} ${kind.toLowerCase()}${n === 1 ? "" : "s"}`);

function planOf(server: string, app: ResolvedApp, f: Footprint, facts: ServerAdoptionFacts): string {
    const adopt = app.adopt!;
    const migrate = migrateRoleOf(f);
    const lines = [`apps.${app.name} on ${server}: adoption changes these (nothing is dropped or recreated):`];
    const db = facts.adopted[app.name];
    if (adopt.database && db) {
        lines.push(
            `  database ${app.database}: kept with its data; owner ${db.owner === migrate ? `${migrate} (unchanged)` : `${db.owner} -> ${migrate}`}; ` +
                `CONNECT revoked from PUBLIC, granted to the app's roles${adopt.keepConnect.length > 0 ? ` and ${adopt.keepConnect.join(", ")}` : ""}` +
                (db.publicSchemaOpen ? `; CREATE on schema public revoked from PUBLIC (granted to ${migrate})` : ""),
        );
    } else {
        lines.push(`  database ${app.database}: created, owned by ${migrate}`);
    }
    for (const role of f.roles) {
        if (!role.adopted) {
            lines.push(`  role ${role.name}: created (generated password, CONNECTION LIMIT ${role.connectionLimit})`);
            continue;
        }
        const before = facts.roles[role.name];
        if (!before) continue;
        const changes = adoptedRoleChanges(app, role, migrate, before);
        const password =
            adopt.roles[role.name]?.password === undefined
                ? "replaced by a generated one (newPassword)"
                : facts.verifiers?.[role.name]
                  ? "kept (the supplied one, checked against the server's)"
                  : "kept (the supplied one; the admin cannot read pg_authid to check it)";
        lines.push(
            `  role ${role.name} (existing): ${changes.length > 0 ? changes.join("; ") : "attributes unchanged"}; password ${password}`,
        );
    }
    if (adopt.moveObjects && db) {
        const counts = movableCounts(db);
        lines.push(
            `  ownership: ${db.movable.length === 0 ? "nothing to move" : counts.join(", ")} in ${adopt.moveObjects.schemas.join(", ")} ` +
                `owned by ${adopt.moveObjects.from.join(", ")} -> ${migrate}` +
                (db.staying > 0 ? `; ${db.staying} owned by other roles stay theirs` : "") +
                "; extension and system objects are never touched" +
                `; one object per transaction, each waiting at most ${adopt.moveObjects.lockTimeoutMs} ms for its lock, ${adopt.moveObjects.maxWaitSeconds} s in all`,
        );
    }
    const grantees = [
        { role: f.roles[1].name, level: app.access, schemas: app.runtimeSchemas ?? app.schemas, runAs: false },
        ...Object.entries(app.extraRoles).map(([role, spec]) => ({
            role,
            level: spec.access,
            schemas: spec.schemas ?? app.schemas,
            runAs: spec.runsMigrations,
        })),
    ];
    for (const { role, level, schemas } of grantees) {
        const privileges = RUNTIME_PRIVILEGES[level].table;
        if (!privileges) {
            lines.push(`  grants to ${role}: none (access ${level}: the app's migrations grant)`);
            continue;
        }
        const existing =
            adopt.database && db
                ? schemas
                      .map(
                          (s) =>
                              `${s}: ${db.objectCounts[s]?.tables ?? 0} existing tables/views, ${db.objectCounts[s]?.sequences ?? 0} sequences`,
                      )
                      .join("; ")
                : "";
        lines.push(
            `  grants to ${role}: ${privileges.join(", ")} in ${schemas.join(", ")}` +
                (existing ? ` on what is there (${existing}; other table privileges it has there are revoked)` : "") +
                ` and on what ${migrate} creates later`,
        );
    }
    // Each login's session settings in the database, as DatabaseAccess sets them; roles with the same path on one line.
    const paths = new Map<string, string[]>();
    for (const { role, schemas, runAs } of [{ role: migrate, schemas: app.schemas, runAs: false }, ...grantees]) {
        const settings = sessionSettingsIn(searchPathFor(schemas, app.searchPath), runAs ? migrate : undefined);
        if (settings.search_path !== undefined) paths.set(settings.search_path, [...(paths.get(settings.search_path) ?? []), role]);
        if (settings.role !== undefined) {
            lines.push(
                `  ${role} runs as ${settings.role} in ${app.database} (role setting): what its migrations create is ${settings.role}'s`,
            );
        }
    }
    for (const [path, roles] of paths) lines.push(`  search_path in ${app.database} of ${roles.join(", ")}: ${path}`);
    return lines.join("\n");
}

/**
 * What a non-superuser admin (RDS, Cloud SQL, CREATEROLE) cannot do of an
 * app's adoption, each with what to run as a superuser instead: alter a
 * superuser role, alter a role it lacks ADMIN OPTION on (16+), take objects
 * from a role whose privileges it does not have.
 */
export function adminPowerProblems(server: string, app: ResolvedApp, facts: ServerAdoptionFacts, admin: string): string[] {
    const powers = facts.adminPowers;
    if (!powers || !app.adopt) return [];
    const at = `apps.${app.name}.adopt`;
    const problems: string[] = [];
    for (const role of Object.keys(app.adopt.roles).filter((r) => r in facts.roles)) {
        if (facts.roles[role].superuser) {
            problems.push(
                `${at}.roles.${role}: role ${role} is a superuser and admin ${admin} is not, so it cannot make it NOSUPERUSER; ` +
                    `run ALTER ROLE ${role} NOSUPERUSER; as a superuser first`,
            );
        } else if (powers.versionNum >= 160000 && !powers.adminOf.includes(role)) {
            problems.push(
                `${at}.roles.${role}: admin ${admin} lacks ADMIN OPTION on role ${role}, which PostgreSQL 16+ requires to alter it; ` +
                    `run GRANT ${role} TO ${admin} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE; as a superuser first`,
            );
        }
    }
    for (const from of app.adopt.moveObjects?.from ?? []) {
        if (from in facts.roles && !powers.usableRoles.includes(from)) {
            problems.push(
                `${at}.moveObjects.from: admin ${admin} cannot take objects owned by ${from} (it does not have ${from}'s privileges); ` +
                    `move them with a superuser admin, or run the ALTER ... OWNER TO statements as ${from}`,
            );
        }
    }
    return problems;
}
