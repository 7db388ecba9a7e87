/**
 * AppDatabase for other Pulumi languages: the library's AppDatabase (with its
 * RolePair) on a SharedServer, from plain-data args that a generated SDK can
 * carry; apps on the same server share its SharedServer (package/server.ts).
 * Type token `app-databases:index:AppDatabase`, as in TypeScript.
 */
import * as pulumi from "@pulumi/pulumi";
import * as lib from "../components/appDatabase";
import type { AccessLevel, ExtraRoleAccessLevel } from "../components/defaults";
import type { ServerConnection } from "../components/sharedServer";
import { serverFor, sharedServerArgs } from "./server";

/** Bump a counter to give that role a new password. */
export interface Rotation {
    /** Rotation counter of the runtime login. @default 0 */
    readonly runtime?: number;
    /** Rotation counter of `<app>_migrate`. @default 0 */
    readonly migrate?: number;
    /** Alternate between `<app>_app` and `<app>_app_alt` so a rotation cuts nothing off. @default false */
    readonly zeroDowntime?: boolean;
}

/** One more login role on the app's database. */
export interface ExtraRole {
    /** readwrite or readonly, on what `<app>_migrate` creates. @default "readonly" */
    readonly access?: string;
    /** The role's CONNECTION LIMIT. @default 10 */
    readonly connectionLimit?: number;
    /** Bump to give the role a new password. @default 0 */
    readonly rotation?: number;
    /** statement_timeout of the role, ms. @default 30000 */
    readonly statementTimeoutMs?: number;
    /** idle_in_transaction_session_timeout of the role, ms. @default 60000 */
    readonly idleInTransactionSessionTimeoutMs?: number;
    /** idle_session_timeout of the role, ms. @default 600000 */
    readonly idleSessionTimeoutMs?: number;
    /** Member of the migrate role, for a service that runs its own migrations. @default false */
    readonly runsMigrations?: boolean;
    /** The schemas this role reaches, some of the app's. @default the app's schemas */
    readonly schemas?: string[];
}

/** Other names for the app's roles. */
export interface RoleNames {
    /** @default `<app>_migrate` */
    readonly migrate?: string;
    /** @default `<app>_app` */
    readonly runtime?: string;
}

/** An existing role taken over by the app, and how its password is handled. */
export interface AdoptedRole {
    /** Secret: the role's password, kept as it is. @default a generated one replaces it */
    readonly password?: string;
}

/** Moving objects of an adopted database to the app's migrate role. */
export interface MoveObjects {
    /** The schemas whose objects move. */
    readonly schemas: string[];
    /** Only objects these roles own move. */
    readonly from: string[];
    /** How long one owner change waits for its lock, ms. @default 2000 */
    readonly lockTimeoutMs?: number;
    /** How long objects other sessions hold locks on are retried, s. @default 60 */
    readonly maxWaitSeconds?: number;
}

/** What already exists on the server and is taken over instead of created (README "Adopting what already runs"). */
export interface Adopt {
    /** The database exists (with its data): it is given to the migrate role, never created or dropped. @default false */
    readonly database?: boolean;
    /** Roles of the app (pair or extra) that exist, by name. @default none */
    readonly roles?: Record<string, AdoptedRole>;
    /** Move the objects of these schemas owned by these roles to the migrate role. @default nothing moves */
    readonly moveObjects?: MoveObjects;
    /** Roles outside the app that keep CONNECT on the adopted database when PUBLIC loses it. @default none */
    readonly keepConnect?: string[];
}

/**
 * What an app asks for, as plain data (the schema analyzer reads declared
 * fields, not Pick<>): access levels as strings checked by the library.
 * AppDatabase adds the app's name and its server; a Fleet's apps name one of
 * its servers.
 */
export interface AppSettings {
    /** Database name. @default the app's name */
    readonly database?: string;
    /** CONNECTION LIMIT of `<app>_app`. @default 10 */
    readonly runtimeConnectionLimit?: number;
    /** CONNECTION LIMIT of `<app>_migrate`. @default 2 */
    readonly migrateConnectionLimit?: number;
    /** statement_timeout of `<app>_app`, ms. @default 30000 */
    readonly statementTimeoutMs?: number;
    /** idle_in_transaction_session_timeout of `<app>_app`, ms. @default 60000 */
    readonly idleInTransactionSessionTimeoutMs?: number;
    /** idle_session_timeout of `<app>_app`, ms. @default 600000 */
    readonly idleSessionTimeoutMs?: number;
    /** Refuse to delete the database and roles (production). @default false */
    readonly protect?: boolean;
    /** Other names for the roles. @default `<app>_migrate`, `<app>_app` */
    readonly roleNames?: RoleNames;
    /** New functions are not executable by PUBLIC; readwrite roles get EXECUTE. @default false */
    readonly revokeFunctionExecute?: boolean;
    /** Leave every resource of the app in place if it is ever deleted. @default false */
    readonly retainOnDelete?: boolean;
    /**
     * What `<app>_app` may do with what `<app>_migrate` creates: readwrite,
     * readonly, or migrations (nothing: the app's migrations grant it). @default "readwrite"
     */
    readonly access?: string;
    /** Bump a counter to give that role a new password. @default no rotation */
    readonly rotation?: Rotation;
    /** The schemas the roles use; one that does not exist is created, owned by the migrate role. @default ["public"] */
    readonly schemas?: string[];
    /** The schemas the runtime role reaches, some of `schemas`. @default `schemas` */
    readonly runtimeSchemas?: string[];
    /** Every app role's search_path in its database, as given. @default each role's schemas, then public */
    readonly searchPath?: string[];
    /** More login roles on this database, by role name. @default {} */
    readonly extraRoles?: Record<string, ExtraRole>;
    /** Take over an existing database and roles instead of creating them. @default nothing adopted */
    readonly adopt?: Adopt;
}

/** AppDatabaseArgs as plain data: the app's settings, its name, and the server as facts. */
export interface AppDatabaseArgs extends AppSettings {
    /** The application's name; the roles are `<app>_migrate` and `<app>_app`. */
    readonly app: string;
    /** The shared server the database lives on, and its admin credentials. */
    readonly server: ServerConnection;
}

/** `adopt` as the library takes it: the passwords secret again (construct inputs arrive revealed). */
function libraryAdopt(adopt: Adopt | undefined): lib.AdoptArgs | undefined {
    if (!adopt) return undefined;
    const roles = Object.entries(adopt.roles ?? {}).map(([role, { password }]) => [
        role,
        password === undefined ? {} : { password: pulumi.secret(password) },
    ]);
    return { ...adopt, roles: Object.fromEntries(roles) as lib.AdoptArgs["roles"] };
}

/**
 * The library's args without the server, from the package's plain data, checked
 * by the library (throws its message on a bad value, before anything is registered).
 */
export function libraryArgs(app: string, settings: AppSettings): Omit<lib.AppDatabaseArgs, "server"> {
    const { access, extraRoles, adopt, ...rest } = settings;
    const args = {
        ...rest,
        app,
        access: access as AccessLevel | undefined,
        adopt: libraryAdopt(adopt),
        extraRoles: Object.fromEntries(
            Object.entries(extraRoles ?? {}).map(([role, spec]) => [
                role,
                { ...spec, access: spec.access as ExtraRoleAccessLevel | undefined },
            ]),
        ),
    };
    lib.resolveAppDatabaseArgs({ ...args, server: UNCHECKED_SERVER });
    return args;
}

export class AppDatabase extends pulumi.ComponentResource {
    /** Host applications connect to. */
    public readonly host: pulumi.Output<string>;
    public readonly port: pulumi.Output<number>;
    public readonly databaseName: pulumi.Output<string>;
    public readonly runtimeUser: pulumi.Output<string>;
    public readonly migrateUser: pulumi.Output<string>;
    /** Secret: the runtime role's libpq URL. */
    public readonly runtimeUrl: pulumi.Output<string>;
    /** Secret: the migrate role's libpq URL. */
    public readonly migrateUrl: pulumi.Output<string>;
    /** Secret: each extra role's URL by role name. */
    public readonly extraRoleUrls: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: AppDatabaseArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // Bad input fails before anything is registered, with the library's messages.
        const { app: appName, server: connection, ...settings } = args;
        const serverArgs = sharedServerArgs(connection);
        const appArgs = libraryArgs(appName, settings);
        super(lib.APP_DATABASE_TYPE, name, {}, opts);
        // One SharedServer (one provider, one pool) for all the apps on this server in the program.
        const { server } = serverFor(name, serverArgs, this);
        const app = new lib.AppDatabase(name, { ...appArgs, server }, { parent: this });
        this.host = app.host;
        this.port = app.port;
        this.databaseName = app.databaseName;
        this.runtimeUser = app.runtimeUser;
        this.migrateUser = app.migrateUser;
        this.runtimeUrl = app.runtimeUrl;
        this.migrateUrl = app.migrateUrl;
        this.extraRoleUrls = app.extraRoleUrls;
        this.registerOutputs({
            host: this.host,
            port: this.port,
            databaseName: this.databaseName,
            runtimeUser: this.runtimeUser,
            migrateUser: this.migrateUser,
            runtimeUrl: this.runtimeUrl,
            migrateUrl: this.migrateUrl,
            extraRoleUrls: this.extraRoleUrls,
        });
    }
}

/** Argument checks read nothing from the server: a stand-in until the real one exists. */
const UNCHECKED_SERVER = {} as lib.AppDatabaseArgs["server"];
