/**
 * Fleet: every app of a program and the servers they live on, in one component
 * of the package, so that the whole set is checked before anything is applied
 * (as the TypeScript program checks its config): a bad app stops the apps
 * declared before it, whatever the order of construct calls and with or
 * without a preview. One SharedServer (one postgresql provider, one pool) per
 * distinct connection, shared with the package's AppDatabases (package/server.ts).
 * Type token `app-databases:index:Fleet`.
 */
import * as pulumi from "@pulumi/pulumi";
import * as lib from "../components/appDatabase";
import { roleListFor } from "../components/identifiers";
import type { ServerConnection, SharedServerArgs } from "../components/sharedServer";
import { AppSettings, libraryArgs } from "./appDatabase";
import { serverFor, sharedServerArgs } from "./server";

export const FLEET_TYPE = "app-databases:index:Fleet";

/** One app of a Fleet: its settings and which of the Fleet's servers it lives on. */
export interface FleetApp extends AppSettings {
    /** A key of the Fleet's `servers`. @default the only server, when there is one */
    readonly server?: string;
}

export interface FleetArgs {
    /** The shared servers, by a name of your choosing, each with its admin credentials. */
    readonly servers: Record<string, ServerConnection>;
    /** The apps, by application name (the roles are `<app>_migrate` and `<app>_app`). */
    readonly apps: Record<string, FleetApp>;
}

/** An app of the Fleet, checked: the library's args and the name of its server. */
interface CheckedApp {
    readonly server: string;
    readonly args: Omit<lib.AppDatabaseArgs, "server">;
}

/** The whole set checked; throws naming the app or server (`apps.<app>`, `servers.<name>`) and what was expected. */
export function checkFleet(args: FleetArgs): { servers: Record<string, SharedServerArgs>; apps: Record<string, CheckedApp> } {
    const named = (where: string, err: unknown) => new Error(`Fleet: ${where}: ${(err as Error).message}`);
    const serverNames = Object.keys(args.servers ?? {});
    if (serverNames.length === 0) throw new Error("Fleet: `servers` is empty: expected at least one server, by name");
    const servers = Object.fromEntries(
        serverNames.map((name) => {
            try {
                return [name, sharedServerArgs(args.servers[name])];
            } catch (err) {
                throw named(`servers.${name}`, err);
            }
        }),
    );
    const apps: Record<string, CheckedApp> = {};
    const taken = new Map<string, string>(); // `<server>/<database or role>` -> the app that has it
    for (const [app, spec] of Object.entries(args.apps ?? {})) {
        const { server: serverName, ...settings } = spec;
        const server = serverName ?? (serverNames.length === 1 ? serverNames[0] : undefined);
        if (server === undefined)
            throw new Error(`Fleet: \`apps.${app}.server\` is required with several servers: expected one of ${serverNames.join(", ")}`);
        if (!(server in servers))
            throw new Error(`Fleet: \`apps.${app}.server\` is "${server}": expected one of ${serverNames.join(", ")}`);
        let checked: Omit<lib.AppDatabaseArgs, "server">;
        try {
            checked = libraryArgs(app, settings);
        } catch (err) {
            throw named(`apps.${app}`, err);
        }
        const roles = [...roleListFor(app, checked.rotation?.zeroDowntime, checked.roleNames), ...Object.keys(checked.extraRoles ?? {})];
        for (const [kind, value] of [["database", checked.database ?? app], ...roles.map((r) => ["role", r])]) {
            const other = taken.get(`${server}/${kind}/${value}`);
            if (other)
                throw new Error(
                    `Fleet: \`apps.${app}\` and \`apps.${other}\` both have the ${kind} ${value} on server ${server}: give one another name`,
                );
            taken.set(`${server}/${kind}/${value}`, app);
        }
        apps[app] = { server, args: checked };
    }
    if (Object.keys(apps).length === 0) throw new Error("Fleet: `apps` is empty: expected at least one app, by name");
    return { servers, apps };
}

export class Fleet extends pulumi.ComponentResource {
    /** Each app's runtime role, by app. */
    public readonly runtimeUsers: pulumi.Output<Record<string, string>>;
    /** Each app's migrate role, by app. */
    public readonly migrateUsers: pulumi.Output<Record<string, string>>;
    /** Each app's database, by app. */
    public readonly databaseNames: pulumi.Output<Record<string, string>>;
    /** Secret: each app's runtime libpq URL, by app. */
    public readonly runtimeUrls: pulumi.Output<Record<string, string>>;
    /** Secret: each app's migrate libpq URL, by app. */
    public readonly migrateUrls: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: FleetArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // All of it checked before the first registration: nothing of a valid app is applied beside a bad one.
        const checked = checkFleet(args);
        super(FLEET_TYPE, name, {}, opts);
        // One SharedServer per server in use, or the one another component of this deployment made for that connection.
        const used = [...new Set(Object.values(checked.apps).map((a) => a.server))];
        const shared = Object.fromEntries(used.map((s) => [s, serverFor(`${name}-${s}`, checked.servers[s], this).server]));
        const apps = Object.entries(checked.apps).map(
            ([app, { server, args: appArgs }]) =>
                [app, new lib.AppDatabase(app, { ...appArgs, server: shared[server] }, { parent: this })] as const,
        );
        const byApp = <T>(pick: (app: lib.AppDatabase) => pulumi.Output<T>) =>
            pulumi.all(Object.fromEntries(apps.map(([app, db]) => [app, pick(db)]))) as pulumi.Output<Record<string, T>>;
        this.runtimeUsers = byApp((db) => db.runtimeUser);
        this.migrateUsers = byApp((db) => db.migrateUser);
        this.databaseNames = byApp((db) => db.databaseName);
        this.runtimeUrls = pulumi.secret(byApp((db) => db.runtimeUrl));
        this.migrateUrls = pulumi.secret(byApp((db) => db.migrateUrl));
        this.registerOutputs({
            runtimeUsers: this.runtimeUsers,
            migrateUsers: this.migrateUsers,
            databaseNames: this.databaseNames,
            runtimeUrls: this.runtimeUrls,
            migrateUrls: this.migrateUrls,
        });
    }
}
