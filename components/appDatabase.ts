/**
 * AppDatabase: one application's database on a server, with its RolePair,
 * its CONNECT lock-down, the runtime privileges its access level asks for,
 * optional extra roles, and the connection facts its deployment needs.
 */
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import { ACCESS_LEVELS, AccessLevel, checkOneOf, DEFAULT_ACCESS_LEVEL, ExtraRoleAccessLevel } from "./defaults";
import { AdoptedDatabase } from "./adoptedDatabase";
import { connectionUrl } from "./connectionUrl";
import { DatabaseAccess, DatabaseAccessArgs, DefaultPrivilegeEntryArgs, RoleSettingsEntry } from "./databaseAccess";
import { identifierProblem, roleListFor, schemasProblem } from "./identifiers";
import {
    declareAdoptedRoles,
    declareLoginRoles,
    earlierRolePasswords,
    keepEarlierRoles,
    LoginRoleSpec,
    managedRoleSpec,
    settingsOf,
} from "./loginRole";
import type { RoleBudget } from "./roleBudgetLock";
import { ManagedRoles, ManagedRoleSpec } from "./managedRoles";
import { lockWaitOf, ObjectOwnership, ObjectOwnershipArgs } from "./objectOwnership";
import { AdoptedRolePassword, pairLoginSpecs, resolveRolePairArgs, ROLE_PAIR_TYPE, RolePair, RolePairArgs } from "./rolePair";
import { checkRoleSchemas, ExtraRoleArgs, ResolvedExtraRole, resolveExtraRole } from "./extraRole";
import { APP_SCHEMA, searchPathFor, sessionSettingsIn } from "./schemaPrivileges";
import { PostgresServer } from "./sharedServer";
import { keepPrior, nameOfUrn, PriorResource, priorResources } from "./priorState";

export const APP_DATABASE_TYPE = "app-databases:index:AppDatabase";
export { APP_SCHEMA } from "./schemaPrivileges";
export { resolveExtraRole } from "./extraRole";
export type { ExtraRoleArgs, ResolvedExtraRole } from "./extraRole";

/** Default privileges per access level, sorted as the provider reads them back (no false diffs). */
export const RUNTIME_PRIVILEGES: Readonly<Record<AccessLevel, Readonly<Partial<Record<"table" | "sequence", string[]>>>>> = {
    readwrite: { table: ["DELETE", "INSERT", "SELECT", "UPDATE"], sequence: ["SELECT", "UPDATE", "USAGE"] },
    readonly: { table: ["SELECT"], sequence: ["SELECT"] },
    migrations: {},
};

/** What already exists on the server and is taken over instead of created. */
export interface AdoptArgs {
    /** The database exists (with its data): it is given to the migrate role, never created or dropped. @default false */
    readonly database?: boolean;
    /** Roles of the app (pair or extra) that exist, by name, with how each one's password is handled. @default none */
    readonly roles?: Readonly<Record<string, AdoptedRolePassword>>;
    /**
     * Move the objects of these schemas owned by these roles to the migrate role
     * (ObjectOwnership: scoped, extension and system objects left alone, one
     * object per short transaction; `lockTimeoutMs` @default 2000,
     * `maxWaitSeconds` @default 60).
     */
    readonly moveObjects?: Pick<ObjectOwnershipArgs, "schemas" | "from" | "lockTimeoutMs" | "maxWaitSeconds">;
    /** Roles outside the app that keep CONNECT on the adopted database when PUBLIC loses it. @default none */
    readonly keepConnect?: readonly string[];
}

export interface AppDatabaseArgs extends Omit<RolePairArgs, "connection" | "adoptRoles"> {
    /** The server (shared or dedicated) the database lives on. */
    readonly server: PostgresServer;
    /** Database name. @default the app's name */
    readonly database?: string;
    /**
     * What `<app>_app` may do with what `<app>_migrate` creates:
     * `readwrite` and `readonly` through default privileges, `migrations` nothing
     * (the app's migrations grant it). @default "readwrite"
     */
    readonly access?: AccessLevel;
    /** More login roles on this database, by role name: peers of `<app>_app`, each with its own limit, access and URL. @default {} */
    readonly extraRoles?: Readonly<Record<string, ExtraRoleArgs>>;
    /**
     * The schemas the roles use: USAGE, privileges on what the migrate role
     * creates there (and, in an adopted database, on what is there already),
     * and a search_path in this database when other than `public` alone. A
     * schema that does not exist is created, owned by the migrate role (an
     * adopted database's must exist). @default ["public"]
     */
    readonly schemas?: readonly string[];
    /** The schemas `<app>_app` reaches: some of `schemas`. @default `schemas` */
    readonly runtimeSchemas?: readonly string[];
    /**
     * The search_path every login role of the app gets in this database, as
     * it is. @default each role's schemas, then `public` (where extensions
     * such as pgcrypto live); none when that is `public` alone
     */
    readonly searchPath?: readonly string[];
    /** Take over what exists instead of creating it. @default nothing adopted */
    readonly adopt?: AdoptArgs;
    /**
     * New functions the migrate role creates are not executable by PUBLIC
     * (PostgreSQL's default grants EXECUTE to everyone): `readwrite` roles get
     * EXECUTE, `readonly` roles none, so a read-only role cannot run a
     * SECURITY DEFINER function that writes. Database-wide default privileges. @default false
     */
    readonly revokeFunctionExecute?: boolean;
    /**
     * Leave every resource of the app in place if it is ever deleted (retired
     * from a protected stack): the stack forgets it, the server keeps it. @default false
     */
    readonly retainOnDelete?: boolean;
    /**
     * The stack's resources at its last `up`: the postgresql provider's
     * DefaultPrivileges and Roles of this app that earlier versions declared
     * are kept for one more `up` with retainOnDelete (keepPriorDefaultPrivileges,
     * loginRole.ts), and the roles taken over with the passwords they have.
     * Pass `[]` when the stack is known to hold none.
     * @default read from the backend, once per program run (priorState.ts)
     */
    readonly stateAtLastUp?: readonly PriorResource[] | Promise<readonly PriorResource[]>;
    /**
     * On a shared server: the connection budget the roles it makes are checked
     * against, under a server-wide lock, and the stack their mark names
     * (roleBudgetLock.ts). @default none
     */
    readonly roleBudget?: RoleBudget;
    /** Roles outside the app that get CONNECT on its database, e.g. the stack's backup role (BackupRunner). @default none */
    readonly connectGrantees?: readonly pulumi.Input<string>[];
}

const COMPONENT = "AppDatabase";

/** The type earlier versions declared an app's default privileges as, one resource per role, schema and object type. */
export const PROVIDER_DEFAULT_PRIVILEGES = "postgresql:index/defaultPrivileges:DefaultPrivileges";

/**
 * The default privileges of an app's database: per login role and schema,
 * what its access level gives on what the migrate role creates; with
 * `revokeFunctionExecute`, PUBLIC loses EXECUTE on new functions database-wide
 * and `readwrite` roles get it.
 */
export function appDefaultPrivileges(
    owner: pulumi.Input<string>,
    grantees: readonly { role: pulumi.Input<string>; access: AccessLevel; schemas?: readonly string[] }[],
    schemas: readonly string[],
    revokeFunctionExecute = false,
): DefaultPrivilegeEntryArgs[] {
    const entries: DefaultPrivilegeEntryArgs[] = [];
    for (const { role, access, schemas: own } of grantees) {
        for (const schema of own ?? schemas) {
            for (const [objectType, privileges] of Object.entries(RUNTIME_PRIVILEGES[access])) {
                entries.push({ owner, role, schema, objectType: objectType as "table" | "sequence", privileges });
            }
        }
    }
    if (revokeFunctionExecute) {
        entries.push({ owner, role: "public", objectType: "function", privileges: [] });
        for (const { role } of grantees.filter((g) => g.access === "readwrite")) {
            entries.push({ owner, role, objectType: "function", privileges: ["EXECUTE"] });
        }
    }
    return entries;
}

/** The types earlier versions declared an app's database and schemas as, now made by DatabaseAccess. */
export const PROVIDER_DATABASE = "postgresql:index/database:Database";
export const PROVIDER_SCHEMA = "postgresql:index/schema:Schema";
/** The type of the USAGE grants on a created database's own schemas before DatabaseAccess made them. */
export const PROVIDER_GRANT = "postgresql:index/grant:Grant";

/** The DefaultPrivileges inputs that a resource's last outputs give back unchanged. */
const DEFAULT_PRIVILEGES_INPUTS = ["database", "owner", "role", "schema", "objectType", "privileges", "withGrantOption"] as const;

/**
 * What an earlier version declared for this app with the postgresql provider
 * and DatabaseAccess now does: its DefaultPrivileges (one per role, schema and
 * object type), its Database and its Schemas (`<app>`, `<app>-<schema>-schema`),
 * and for a created database (`ownDatabase`) the USAGE Grants on its schemas
 * (`...-usage`). Kept one more `up` (keepPrior), so the upgrade revokes and
 * drops nothing. An app's are told apart from another's by name and database.
 */
function keepPriorAppResources(
    app: AppDatabase,
    name: string,
    database: string,
    state: readonly PriorResource[] | Promise<readonly PriorResource[]>,
    ownDatabase: boolean,
): void {
    const ownChild = (r: PriorResource) => nameOfUrn(r.urn).startsWith(`${name}-`) && r.outputs.database === database;
    keepPrior(
        state,
        (r) =>
            (r.type === PROVIDER_DATABASE && nameOfUrn(r.urn) === name && r.outputs.name === database) ||
            ((r.type === PROVIDER_SCHEMA || r.type === PROVIDER_DEFAULT_PRIVILEGES) && ownChild(r)) ||
            (ownDatabase && r.type === PROVIDER_GRANT && nameOfUrn(r.urn).endsWith("-usage") && ownChild(r)),
        (r, resourceName, opts) => {
            if (r.type === PROVIDER_GRANT) {
                const { role, schema } = r.outputs as { role: string; schema: string };
                new postgresql.Grant(
                    resourceName,
                    { database, role, schema, objectType: "schema", privileges: ["USAGE"] },
                    { ...opts, parent: app, dependsOn: [app.access] },
                );
            } else if (r.type === PROVIDER_DATABASE) {
                new postgresql.Database(resourceName, { name: database }, { ...opts, parent: app });
            } else if (r.type === PROVIDER_SCHEMA) {
                new postgresql.Schema(resourceName, { name: String(r.outputs.name), database }, { ...opts, parent: app });
            } else {
                const inputs = Object.fromEntries(
                    DEFAULT_PRIVILEGES_INPUTS.filter((k) => r.outputs[k] !== undefined).map((k) => [k, r.outputs[k]]),
                );
                new postgresql.DefaultPrivileges(resourceName, inputs as unknown as postgresql.DefaultPrivilegesArgs, {
                    ...opts,
                    parent: app,
                    dependsOn: [app.access],
                    ignoreChanges: [...DEFAULT_PRIVILEGES_INPUTS],
                });
            }
        },
    );
}

/** AppDatabaseArgs with every default of its own filled in (the RolePair's are resolved by RolePair). */
export interface ResolvedAppDatabaseArgs extends AppDatabaseArgs {
    readonly database: string;
    readonly schemas: readonly string[];
    readonly runtimeSchemas: readonly string[];
    readonly adopt: AdoptArgs;
    readonly access: AccessLevel;
    readonly extraRoles: Readonly<Record<string, ResolvedExtraRole>>;
    readonly protect: boolean;
    readonly retainOnDelete: boolean;
}

/** Checks what `adopt` names against the app's own roles and schemas; throws naming the argument. */
function checkAdopt(args: AppDatabaseArgs, extraRoles: readonly string[]): void {
    const adopt = args.adopt ?? {};
    const own = [...roleListFor(args.app, false, args.roleNames), ...extraRoles];
    const stray = Object.keys(adopt.roles ?? {}).filter((r) => !own.includes(r));
    if (stray.length > 0) {
        throw new Error(`${COMPONENT}: \`adopt.roles\` names ${stray.join(", ")}: expected the app's own roles (${own.join(", ")})`);
    }
    if (adopt.moveObjects) {
        if (!adopt.database)
            throw new Error(`${COMPONENT}: \`adopt.moveObjects\` moves objects of an existing database: set adopt.database too`);
        const problem = schemasProblem(adopt.moveObjects.schemas);
        if (problem) throw new Error(`${COMPONENT}: \`adopt.moveObjects.schemas\` ${problem}`);
        if (adopt.moveObjects.from.length === 0)
            throw new Error(`${COMPONENT}: \`adopt.moveObjects.from\` expected the roles whose objects move, got none`);
        lockWaitOf(adopt.moveObjects, COMPONENT, "adopt.moveObjects.");
    }
    for (const role of adopt.keepConnect ?? []) {
        const problem = identifierProblem(role);
        if (problem) throw new Error(`${COMPONENT}: \`adopt.keepConnect\` ${problem}`);
    }
}

/** Fills in AppDatabase defaults; throws naming the argument and the value when one is unusable. */
export function resolveAppDatabaseArgs(args: AppDatabaseArgs): ResolvedAppDatabaseArgs {
    resolveRolePairArgs({ ...args, connection: args.server.connection });
    const database = args.database ?? args.app;
    const problem = identifierProblem(database);
    if (problem) throw new Error(`${COMPONENT}: \`database\` ${problem}`);
    const schemas = args.schemas ?? [APP_SCHEMA];
    const badSchemas = schemasProblem(schemas);
    if (badSchemas) throw new Error(`${COMPONENT}: \`schemas\` ${badSchemas}`);
    checkAdopt(args, Object.keys(args.extraRoles ?? {}));
    if (args.searchPath !== undefined) {
        const bad = schemasProblem(args.searchPath);
        if (bad) throw new Error(`${COMPONENT}: \`searchPath\` ${bad}`);
    }
    return {
        ...args,
        database,
        schemas,
        runtimeSchemas: checkRoleSchemas("runtimeSchemas", args.runtimeSchemas ?? schemas, schemas),
        adopt: args.adopt ?? {},
        access: checkOneOf(COMPONENT, "access", args.access ?? DEFAULT_ACCESS_LEVEL, ACCESS_LEVELS),
        extraRoles: Object.fromEntries(
            Object.entries(args.extraRoles ?? {}).map(([role, spec]) => [role, resolveExtraRole(role, spec, schemas)]),
        ),
        protect: args.protect ?? false,
        retainOnDelete: args.retainOnDelete ?? false,
    };
}

/** A login handed out: its name and password (secret), each known once the resource that makes it is. */
interface Login {
    readonly name: pulumi.Output<string>;
    readonly password: pulumi.Output<string>;
}

/** An app's login roles as its DatabaseAccess and URLs take them, whichever resources make them. */
interface AppRoles {
    /** The migrate role's name, for what needs the role (the database's owner). */
    readonly migrate: pulumi.Input<string>;
    /** `<app>_app`, which holds the runtime privileges. */
    readonly runtimeRole: pulumi.Input<string>;
    /** The settings the runtime logins get (idle_session_timeout). */
    readonly sessionSettings: { role: pulumi.Input<string>; settings: Readonly<Record<string, string>> }[];
    readonly extras: { roleName: string; access: ExtraRoleAccessLevel; name: pulumi.Input<string>; settings: Record<string, string> }[];
    /** The resources DatabaseAccess comes after. */
    readonly before: pulumi.Resource[];
    /** What DatabaseAccess makes of them itself (an app's own database). */
    readonly made?: Pick<DatabaseAccessArgs, "roles" | "existingPasswords">;
    /** The logins handed out, once DatabaseAccess is declared. */
    logins(access: DatabaseAccess): { migrate: Login; runtime: Login; extras: Record<string, Login> };
}

/** An extra role's login, as declareLoginRoles takes it. */
function extraLoginSpec(
    name: string,
    roleName: string,
    spec: ResolvedExtraRole,
    migrate: pulumi.Input<string>,
    adopted?: AdoptedRolePassword,
): LoginRoleSpec {
    return {
        resourceName: `${name}-${roleName}`,
        roleName,
        connectionLimit: spec.connectionLimit,
        rotation: spec.rotation,
        timeouts: spec,
        ...(spec.runsMigrations ? { memberOf: [migrate] } : {}),
        ...(adopted ? { adopt: { password: adopted.password } } : {}),
    };
}

/**
 * The roles of an app whose database exists (adopted): a RolePair and a
 * ManagedRoles per extra role, which the AdoptedDatabase and DatabaseAccess
 * come after (the database is given to the migrate role).
 */
function rolePairRoles(
    app: AppDatabase,
    name: string,
    appArgs: AppDatabaseArgs,
    args: ResolvedAppDatabaseArgs,
    stateAtLastUp: readonly PriorResource[] | Promise<readonly PriorResource[]>,
): AppRoles {
    const server = args.server;
    const adoptedRoles = args.adopt.roles ?? {};
    const pair = new RolePair(
        name,
        { ...appArgs, connection: server.connection, applySessionSettings: false, adoptRoles: adoptedRoles, stateAtLastUp },
        { parent: app },
    );
    // One resource per extra role: removing one deletes it after DatabaseAccess has revoked what
    // it granted that role (an update of a shared resource would run before, and DROP ROLE fail).
    const extras = Object.entries(args.extraRoles).map(([roleName, spec]) => {
        const logins = declareLoginRoles(
            app,
            `${name}-${roleName}`,
            { [roleName]: extraLoginSpec(name, roleName, spec, pair.migrateUser, adoptedRoles[roleName]) },
            { connection: server.connection, protect: args.protect, stateAtLastUp },
        );
        return { roleName, access: spec.access, ...logins[roleName] };
    });
    return {
        migrate: pair.migrateUser,
        runtimeRole: pair.runtimeRoleName,
        sessionSettings: pair.sessionSettings,
        extras,
        before: extras.map((e) => e.resource),
        logins: () => ({
            migrate: { name: pair.migrateUser, password: pair.migratePassword },
            runtime: { name: pair.runtimeUser, password: pair.runtimePassword },
            extras: Object.fromEntries(extras.map((e) => [e.roleName, { name: e.name, password: e.password }])),
        }),
    };
}

/** The DatabaseAccess slot of an extra role (the pair's are `migrate`, `runtime`, `alternate`). */
const extraSlot = (roleName: string) => `extra:${roleName}`;

/**
 * The roles of an app whose database the stack creates: its DatabaseAccess
 * makes them (one resource per app), but for the adopted ones (AdoptedRole).
 * Upgrading a stack whose RolePair and ManagedRoles made them: the
 * DatabaseAccess takes them over with the passwords in the last state, and
 * the ManagedRoles (and the provider's Roles of older stacks) are kept one
 * more `up` with retainOnDelete, as keepPrior does, so that nothing is dropped.
 */
function ownRoles(
    app: AppDatabase,
    name: string,
    appArgs: AppDatabaseArgs,
    args: ResolvedAppDatabaseArgs,
    stateAtLastUp: readonly PriorResource[] | Promise<readonly PriorResource[]>,
): AppRoles {
    const server = args.server;
    const adoptedRoles = args.adopt.roles ?? {};
    const { specs: pair, slots } = pairLoginSpecs(
        name,
        resolveRolePairArgs({ ...appArgs, connection: server.connection, adoptRoles: adoptedRoles }),
    );
    const common = { connection: server.connection, protect: args.protect, stateAtLastUp };
    // The pair's resources were a RolePair's children.
    const underPair = { ...common, aliases: [{ parent: pulumi.createUrn(name, ROLE_PAIR_TYPE, app) }] };
    const adoptedPair = declareAdoptedRoles(app, pair, underPair);
    const migrate = adoptedPair.migrate?.name ?? pair.migrate.roleName;
    const extraSpecs = Object.fromEntries(
        Object.entries(args.extraRoles).map(([roleName, spec]) => [
            extraSlot(roleName),
            extraLoginSpec(name, roleName, spec, migrate, adoptedRoles[roleName]),
        ]),
    );
    const adoptedExtras = declareAdoptedRoles(app, extraSpecs, common);
    const adopted = { ...adoptedPair, ...adoptedExtras };
    const made = Object.fromEntries(Object.entries({ ...pair, ...extraSpecs }).filter(([, spec]) => !spec.adopt));
    const nameIn = (slot: string, specs: Record<string, LoginRoleSpec>) => adopted[slot]?.name ?? specs[slot].roleName;

    // Upgrade: what made these roles before.
    const holders = [`${name}-role-pair`, ...Object.values(extraSpecs).map((spec) => spec.resourceName)];
    const pairSlots = (spec: LoginRoleSpec) => Object.values(pair).includes(spec);
    keepEarlierRoles(app, Object.values(made).filter(pairSlots), underPair);
    keepEarlierRoles(
        app,
        Object.values(made).filter((spec) => !pairSlots(spec)),
        common,
    );
    keepPrior(
        stateAtLastUp,
        (r) => r.type.endsWith(":ManagedRoles") && holders.includes(nameOfUrn(r.urn)),
        (r, resourceName, opts) =>
            new ManagedRoles(
                resourceName,
                { connection: server.connection, roles: r.outputs.roles as Record<string, ManagedRoleSpec> },
                { ...opts, parent: app, aliases: resourceName === holders[0] ? underPair.aliases : [] },
            ),
    );

    const runtimeLogins = ["runtime", ...(pair.alternate ? ["alternate"] : [])];
    return {
        migrate,
        runtimeRole: nameIn("runtime", pair),
        sessionSettings: runtimeLogins.map((slot) => ({ role: nameIn(slot, pair), settings: settingsOf(pair[slot]) })),
        extras: Object.entries(args.extraRoles).map(([roleName, spec]) => ({
            roleName,
            access: spec.access,
            name: nameIn(extraSlot(roleName), extraSpecs),
            settings: settingsOf(extraSpecs[extraSlot(roleName)]),
        })),
        before: Object.values(adopted).map((login) => login.resource),
        made:
            Object.keys(made).length === 0
                ? undefined
                : {
                      roles: Object.fromEntries(Object.entries(made).map(([slot, spec]) => [slot, managedRoleSpec(spec)])),
                      existingPasswords: pulumi.output(stateAtLastUp).apply((state) => {
                          const passwords = earlierRolePasswords(state, holders, made);
                          return passwords ? pulumi.secret(passwords) : undefined;
                      }) as pulumi.Output<Record<string, string> | undefined>, // apply lifts the returned Output, its secrecy included
                  },
        logins: (access) => {
            const login = (slot: string): Login =>
                adopted[slot]
                    ? { name: adopted[slot].name, password: adopted[slot].password }
                    : { name: access.nameOf(slot), password: access.passwordOf(slot) };
            return {
                migrate: login("migrate"),
                runtime: login(slots.alternateActive && pair.alternate ? "alternate" : "runtime"),
                extras: Object.fromEntries(Object.keys(args.extraRoles).map((roleName) => [roleName, login(extraSlot(roleName))])),
            };
        },
    };
}

/** A transformation that marks every child of a component retained on delete. */
const retainChildren: pulumi.ResourceTransformation = (a) => ({
    props: a.props,
    opts: pulumi.mergeOptions(a.opts, { retainOnDelete: true }),
});

export class AppDatabase extends pulumi.ComponentResource {
    /**
     * The database (made by it unless adopted), its CONNECT lock-down, schemas, role settings and
     * default privileges: once it exists, the database is as the access report should see it.
     */
    public readonly access: DatabaseAccess;
    public readonly host: pulumi.Output<string>;
    public readonly port: pulumi.Output<number>;
    /** Host other containers on the server's network use (dedicated), else the same as host. */
    public readonly internalHost: pulumi.Output<string>;
    public readonly databaseName: pulumi.Output<string>;
    public readonly runtimeUser: pulumi.Output<string>;
    public readonly migrateUser: pulumi.Output<string>;
    /** Secret: the runtime role's libpq URL. */
    public readonly runtimeUrl: pulumi.Output<string>;
    /** Secret: the migrate role's libpq URL. */
    public readonly migrateUrl: pulumi.Output<string>;
    /** Secret: the runtime URL with the host other containers use (dedicated placement), else the same as runtimeUrl. */
    public readonly internalRuntimeUrl: pulumi.Output<string>;
    /** Secret: each extra role's URL by role name. */
    public readonly extraRoleUrls: pulumi.Output<Record<string, string>>;

    constructor(name: string, appArgs: AppDatabaseArgs, opts: pulumi.ComponentResourceOptions = {}) {
        const args = resolveAppDatabaseArgs(appArgs); // bad input fails before anything is registered
        const dbName = args.database;
        const adopt = args.adopt;
        // An adopted database outlives the stack, and so does everything the app needs in it:
        // the roles that own its moved objects and that its services log in as.
        const retain = args.retainOnDelete || adopt.database === true;
        super(
            APP_DATABASE_TYPE,
            name,
            {},
            pulumi.mergeOptions(opts, { providers: [args.server.provider], transformations: retain ? [retainChildren] : [] }),
        );
        const access = args.access;
        const protect = args.protect;
        const server = args.server;
        const stateAtLastUp = args.stateAtLastUp ?? priorResources();

        const roles = adopt.database
            ? rolePairRoles(this, name, appArgs, args, stateAtLastUp)
            : ownRoles(this, name, appArgs, args, stateAtLastUp);

        const adopted = adopt.database
            ? new AdoptedDatabase(name, { connection: server.connection, name: dbName, owner: roles.migrate }, { parent: this })
            : undefined;

        // Each login finds its own schemas first in this database, then `public` (extensions);
        // a service that runs migrations does so as the migrate role, which then owns what it makes.
        const inDatabase = (role: pulumi.Input<string>, schemas: readonly string[], runAs?: pulumi.Input<string>) =>
            pulumi.all([role, runAs]).apply(([r, as]) => ({
                role: r,
                database: dbName,
                settings: sessionSettingsIn(searchPathFor(schemas, args.searchPath), as),
            }));
        const sessions: { role: pulumi.Input<string>; schemas: readonly string[]; runAs?: pulumi.Input<string> }[] = [
            { role: roles.migrate, schemas: args.schemas },
            ...roles.sessionSettings.map((s) => ({ role: s.role, schemas: args.runtimeSchemas })),
            ...roles.extras.map((e) => ({
                role: e.name,
                schemas: args.extraRoles[e.roleName].schemas,
                runAs: args.extraRoles[e.roleName].runsMigrations ? roles.migrate : undefined,
            })),
        ];
        const searchPath: pulumi.Input<RoleSettingsEntry>[] = sessions
            .filter((r) => searchPathFor(r.schemas, args.searchPath) !== undefined || r.runAs !== undefined)
            .map((r) => inDatabase(r.role, r.schemas, r.runAs));

        const ownSchemas = args.schemas.filter((schema) => schema !== APP_SCHEMA);
        const grantees = [
            { key: "app", role: roles.runtimeRole, access, schemas: args.runtimeSchemas },
            ...roles.extras.map((e) => ({ key: e.roleName, role: e.name, access: e.access, schemas: args.extraRoles[e.roleName].schemas })),
        ];
        // USAGE on the app's own schemas, for the roles whose access level reaches into them.
        const usage = grantees
            .filter((g) => Object.keys(RUNTIME_PRIVILEGES[g.access]).length > 0)
            .flatMap((g) => ownSchemas.filter((schema) => g.schemas.includes(schema)).map((schema) => ({ ...g, schema })));
        this.access = new DatabaseAccess(
            `${name}-access`,
            {
                connection: server.connection,
                database: adopted ? adopted.name : dbName,
                owner: roles.migrate,
                // A created database, its schemas and its roles are this resource's: made first, dropped with it.
                // An adopted database's schemas must exist (preflight).
                ...(adopted
                    ? {}
                    : {
                          createDatabase: true,
                          ...(ownSchemas.length > 0 ? { schemas: ownSchemas } : {}),
                          ...(usage.length > 0 ? { schemaUsage: usage.map(({ schema, role }) => ({ schema, role })) } : {}),
                      }),
                ...(roles.made ?? {}),
                ...(roles.made && appArgs.roleBudget ? { roleBudget: appArgs.roleBudget } : {}),
                // <app>_app holds the privileges; <app>_app_alt has them by membership.
                grantees: [
                    roles.runtimeRole,
                    ...roles.extras.map((e) => e.name),
                    ...(adopt.keepConnect ?? []),
                    ...(appArgs.connectGrantees ?? []),
                ],
                roleSettings: [
                    ...roles.sessionSettings,
                    ...roles.extras.map((e) => ({ role: e.name, settings: e.settings })),
                    ...searchPath,
                ],
                // PostgreSQL 14 lets every role create in schema public: only the migrate role may.
                publicSchemaCreators: [roles.migrate],
                defaultPrivileges: appDefaultPrivileges(roles.migrate, grantees, args.schemas, args.revokeFunctionExecute),
            },
            // Dropping a created database terminates its sessions and drops it WITH (FORCE): protect it in production.
            {
                parent: this,
                protect: adopted ? false : protect,
                dependsOn: [...(adopted ? [adopted] : []), ...roles.before],
            },
        );
        const logins = roles.logins(this.access);

        // Grants on one database run one after another: in parallel they fail
        // with "tuple concurrently updated" (cyrilgdn #178). Replacing one deletes
        // the old grant first so create-before-delete cannot drop the new one.
        // With a non-superuser admin each borrows membership in the migrate role
        // (GRANT ... TO CURRENT_USER, then REVOKE), and one's REVOKE broke the
        // other's statement ("must be member of role").
        let previous: pulumi.Resource = this.access;
        const inOrder = <T extends pulumi.Resource>(declare: (after: pulumi.Resource) => T): T => (previous = declare(previous));
        const databaseName = this.access.database;

        if (adopt.moveObjects) {
            const { schemas, from, lockTimeoutMs, maxWaitSeconds } = adopt.moveObjects;
            inOrder(
                (after) =>
                    new ObjectOwnership(
                        `${name}-ownership`,
                        {
                            connection: server.connection,
                            database: databaseName,
                            schemas,
                            from,
                            to: roles.migrate,
                            lockTimeoutMs,
                            maxWaitSeconds,
                        },
                        { parent: this, dependsOn: [after] },
                    ),
            );
        }

        // An adopted database: USAGE on its schemas, and privileges on what they hold already
        // (default privileges only reach new objects), as the provider's Grants.
        for (const { key, role, access: level, schemas } of adopt.database ? grantees : []) {
            const privilegesOf = Object.entries(RUNTIME_PRIVILEGES[level]);
            if (privilegesOf.length === 0) continue; // migrations: the app's own migrations grant
            for (const schema of schemas) {
                // `public` keeps the names these resources had before other schemas existed.
                const prefix = schema === APP_SCHEMA ? `${name}-${key}` : `${name}-${key}-${schema}`;
                const common = { database: databaseName, schema, role };
                if (schema !== APP_SCHEMA) {
                    inOrder(
                        (after) =>
                            new postgresql.Grant(
                                `${prefix}-usage`,
                                { ...common, objectType: "schema", privileges: ["USAGE"] },
                                { parent: this, dependsOn: [after], deleteBeforeReplace: true },
                            ),
                    );
                }
                for (const [objectType, privileges] of privilegesOf) {
                    inOrder(
                        (after) =>
                            new postgresql.Grant(
                                `${prefix}-existing-${objectType}s`,
                                { ...common, objectType, objects: [], privileges },
                                { parent: this, dependsOn: [after], deleteBeforeReplace: true },
                            ),
                    );
                }
            }
        }

        keepPriorAppResources(this, name, dbName, stateAtLastUp, !adopt.database);

        const endpoint = server.endpoint;
        const url = (host: string, port: number, database: string, user: string, password: string) =>
            connectionUrl({
                host,
                port,
                database,
                user,
                password,
                sslmode: endpoint.sslmode,
                connectTimeoutSeconds: endpoint.connectTimeoutSeconds,
                parameters: endpoint.urlParameters,
            });

        this.host = pulumi.output(endpoint.host);
        this.port = pulumi.output(endpoint.port);
        this.internalHost = pulumi.output(endpoint.internalHost ?? endpoint.host);
        this.databaseName = databaseName;
        this.runtimeUser = logins.runtime.name;
        this.migrateUser = logins.migrate.name;
        // The pair's three URLs from one secret output: each of its own (all, apply, secret)
        // cost a 100-app preview several thousand outputs.
        const urls = pulumi.secret(
            pulumi
                .all([
                    this.host,
                    this.internalHost,
                    pulumi.all([this.port, endpoint.internalPort ?? endpoint.port]),
                    databaseName,
                    this.runtimeUser,
                    this.migrateUser,
                    logins.runtime.password,
                    logins.migrate.password,
                ])
                .apply(([host, internalHost, [port, internalPort], db, runtimeUser, migrateUser, runtimePassword, migratePassword]) => ({
                    runtime: url(host, port, db, runtimeUser, runtimePassword),
                    migrate: url(host, port, db, migrateUser, migratePassword),
                    internalRuntime: url(internalHost, internalPort, db, runtimeUser, runtimePassword),
                })),
        );
        this.runtimeUrl = urls.apply((u) => u.runtime);
        this.migrateUrl = urls.apply((u) => u.migrate);
        this.internalRuntimeUrl = urls.apply((u) => u.internalRuntime);
        // Each extra role's URL apart: a new one, unknown in a preview, leaves the pair's URLs known.
        this.extraRoleUrls = pulumi.secret(
            pulumi
                .all(
                    Object.entries(logins.extras).map(([roleName, login]) =>
                        pulumi
                            .all([this.host, this.port, databaseName, login.name, login.password])
                            .apply(([host, port, db, user, password]) => [roleName, url(host, port, db, user, password)] as const),
                    ),
                )
                .apply((pairs) => Object.fromEntries(pairs)),
        );
        // The URLs (secrets) stay properties only: the engine keeps every ciphertext it
        // writes for the run, so each secret in the state costs memory per step (bench/README.md).
        this.registerOutputs({
            host: this.host,
            port: this.port,
            database: this.databaseName,
            runtimeUser: this.runtimeUser,
            migrateUser: this.migrateUser,
        });
    }
}
