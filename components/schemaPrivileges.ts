/**
 * Which schemas each login role of an app reaches, and the settings its
 * sessions start with in the app's database: pure functions, no I/O.
 * AppDatabase decides per role; DatabaseAccess applies what they return.
 */

/** The schema the migrate role creates objects in unless `schemas` names others. */
export const APP_SCHEMA = "public";

/** The schema PostgreSQL puts extensions in unless told otherwise (pgcrypto's digest(), uuid-ossp...). */
export const EXTENSION_SCHEMA = "public";

/**
 * A role's search_path in the app's database, or undefined when it needs none
 * (only `public`: PostgreSQL's own default finds it). The role's schemas
 * first, then `public`, where extensions are installed unless told otherwise,
 * so `digest(...)` still resolves once a service runs as the new role. An
 * explicit list wins as it is.
 */
export function searchPathFor(schemas: readonly string[], explicit?: readonly string[]): string | undefined {
    if (explicit !== undefined) return explicit.join(", ");
    if (schemas.length === 1 && schemas[0] === EXTENSION_SCHEMA) return undefined;
    return (schemas.includes(EXTENSION_SCHEMA) ? schemas : [...schemas, EXTENSION_SCHEMA]).join(", ");
}

/**
 * The settings a login's sessions start with in the app's database: its
 * search_path, and for a role that runs migrations `role = <migrate>`, so
 * what its migrations create is owned by the migrate role (not by the
 * service's own login) and the default privileges FOR ROLE <migrate> give
 * every peer its declared access to it. Empty when it needs none.
 */
export function sessionSettingsIn(searchPath: string | undefined, runAs?: string): Record<string, string> {
    return {
        ...(searchPath === undefined ? {} : { search_path: searchPath }),
        ...(runAs === undefined ? {} : { role: runAs }),
    };
}

/**
 * What is wrong with a role's own schema list, or undefined: each must be one
 * of the app's `schemas` (those are the ones made, owned and granted in).
 */
export function roleSchemasProblem(roleSchemas: readonly string[], appSchemas: readonly string[]): string | undefined {
    if (roleSchemas.length === 0) return "expected at least one of the app's schemas, got none";
    const stray = roleSchemas.filter((s) => !appSchemas.includes(s));
    if (stray.length > 0) {
        return `expected schemas among the app's schemas (${appSchemas.join(", ")}), got ${stray.map((s) => JSON.stringify(s)).join(", ")}`;
    }
    return undefined;
}
