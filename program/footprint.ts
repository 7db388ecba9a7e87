/**
 * What one app leaves on its server: its database and every role it gets,
 * each with its CONNECTION LIMIT and the config path that asks for it. The
 * name checks, the connection budget, the pg_hba lines and the data-loss
 * guard all read this one model, so they always agree on what an app is.
 */
import { roleNamesFor, RoleNameOverrides } from "../components/identifiers";

/** One role of an app. */
export interface FootprintRole {
    readonly name: string;
    /** `derived` roles are named from the app (`<app>_migrate`, `<app>_app`, `<app>_app_alt`); `extra` roles by the user. */
    readonly origin: "derived" | "extra";
    readonly connectionLimit: number;
    /** The config path that asks for the role, for messages. */
    readonly path: string;
    /** It exists on the server already and is taken over (adopt.roles). */
    readonly adopted: boolean;
}

/** An app's database and roles on its server. */
export interface Footprint {
    readonly app: string;
    /** Server key: a `servers` entry or `dedicated-<app>`. */
    readonly server: string;
    readonly database: string;
    /** The database exists on the server already and is taken over (adopt.database). */
    readonly databaseAdopted: boolean;
    /** Migrate role first, then the runtime login(s), then the extra roles in config order. */
    readonly roles: readonly FootprintRole[];
}

/** What the footprint is read from: a resolved app of the stack config (program/config.ts) has all of it. */
export interface FootprintSource {
    readonly name: string;
    readonly server: string;
    readonly database: string;
    readonly connectionLimit: number;
    readonly migrateConnectionLimit: number;
    readonly rotation: { readonly zeroDowntime: boolean };
    readonly extraRoles: Readonly<Record<string, { readonly connectionLimit: number }>>;
    readonly roles?: RoleNameOverrides;
    readonly adopt?: { readonly database: boolean; readonly roles: Readonly<Record<string, unknown>> };
}

export function footprintOf(app: FootprintSource): Footprint {
    const names = roleNamesFor(app.name, app.roles);
    const adopted = (name: string) => name in (app.adopt?.roles ?? {});
    const derived = (name: string, connectionLimit: number): FootprintRole => ({
        name,
        origin: "derived",
        connectionLimit,
        path: `apps.${app.name}`,
        adopted: adopted(name),
    });
    return {
        app: app.name,
        server: app.server,
        database: app.database,
        databaseAdopted: app.adopt?.database ?? false,
        roles: [
            derived(names.migrate, app.migrateConnectionLimit),
            derived(names.runtime, app.connectionLimit),
            // With zero-downtime rotation both runtime logins may hold connections at once.
            ...(app.rotation.zeroDowntime ? [derived(names.alternateRuntime, app.connectionLimit)] : []),
            ...Object.entries(app.extraRoles).map(([name, spec]) => ({
                name,
                origin: "extra" as const,
                connectionLimit: spec.connectionLimit,
                path: `apps.${app.name}.extraRoles.${name}`,
                adopted: adopted(name),
            })),
        ],
    };
}

/** The app's owner role: `<app>_migrate` unless renamed. */
export const migrateRoleOf = (footprint: Footprint): string => footprint.roles[0].name;

/** The names of an app's roles, in footprint order. */
export const roleNamesOf = (footprint: Footprint): string[] => footprint.roles.map((r) => r.name);
