/**
 * A shared server's app database that disappeared from under a stack that
 * protects data: refused by the preflight, naming it. Left alone, the state
 * still thinks it is there (the app finds no database), and a refresh forgets
 * its DatabaseAccess, after which the next `up` would make it again, empty,
 * with new passwords.
 */
import { ResolvedApp, StackConfig } from "./config";
import type { ServerAdoptionFacts } from "./adoption";
import { appAtLastUp } from "./dedicatedState";
import { footprintOf, migrateRoleOf } from "./footprint";

/** The shared apps of a protected stack whose database the server lacks (new ones, or gone ones: the last up tells). */
export function absentDatabases(config: StackConfig, facts: Readonly<Record<string, ServerAdoptionFacts>>): ResolvedApp[] {
    if (!config.protect) return [];
    return Object.values(config.apps).filter(
        (app) => app.placement === "shared" && facts[app.server] !== undefined && !facts[app.server].databases.includes(app.database),
    );
}

/** Every app of a protected stack whose database the last `up` left on its shared server and the server no longer holds. */
export function goneDatabaseProblems(
    config: StackConfig,
    facts: Readonly<Record<string, ServerAdoptionFacts>>,
    previous: Readonly<Record<string, unknown>> | undefined,
): string[] {
    if (!previous) return [];
    return absentDatabases(config, facts).flatMap((app) => {
        const last = appAtLastUp(previous, app.name);
        if (last?.server !== app.server || last.database !== app.database) return [];
        const migrate = migrateRoleOf(footprintOf(app));
        return [
            `apps.${app.name}: database ${app.database} is gone from server ${app.server}, where the last up left it, and this stack ` +
                `protects data (protect: true): it is not made again, empty. Nothing was applied. The way back: restore it from a ` +
                `backup (database ${app.database}, owned by ${migrate}), then run the up again.`,
        ];
    });
}
