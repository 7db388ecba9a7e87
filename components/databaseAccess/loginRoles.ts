/**
 * The login roles a DatabaseAccess makes for an app's own database (with
 * their generated passwords: managedRoles.ts): made before the database,
 * marked as its own, and dropped after it; a role that goes first leaves
 * what it owns and holds in the database.
 */
import type { Client } from "pg";
import { AdminConnection, asRole, inTransaction, withAdminClient } from "../adminConnection";
import { dropRoles, ManagedRoleSpec, RolesHeld, shapeRoles } from "../managedRoles";
import { RoleBudget, stackRoleMarker } from "../roleBudgetLock";
import { dropOwned, existingRolesQuery, reassignOwned } from "../sql/roles";

/** Of `names`, the roles that exist. */
export async function existingRoles(client: Client, names: readonly string[]): Promise<string[]> {
    return (await client.query<{ rolname: string }>(existingRolesQuery(names))).rows.map((r) => r.rolname);
}

/**
 * The comment on each role a DatabaseAccess makes: it says where the role
 * comes from (`\du+`), and a create that failed half-way knows its own roles
 * again by it (managedRoles.ts, shapeRoles).
 */
export const roleMarker = (database: string) => `app-databases: login role of database ${database}`;

/** What a DatabaseAccess that makes roles is given. */
export interface RolesInputs {
    readonly connection: AdminConnection;
    readonly database: string;
    readonly roles?: Readonly<Record<string, ManagedRoleSpec>>;
    readonly existingPasswords?: Readonly<Record<string, string>>;
    readonly roleBudget?: RoleBudget;
}

/**
 * Makes, renames and shapes the roles of `inputs` in one transaction (from
 * `held`, what the last step left), marked with the stack's mark and, on a
 * shared server, checked against the budget under its lock; returns their
 * passwords by slot.
 */
export async function shapeAccessRoles(client: Client, inputs: RolesInputs, held?: RolesHeld): Promise<Record<string, string>> {
    const legacyMarker = roleMarker(inputs.database);
    const budget = inputs.roleBudget;
    const marker = budget ? stackRoleMarker(budget.stack, inputs.database) : legacyMarker;
    const guard = budget ? { budget, admin: inputs.connection.username, legacyMarker } : undefined;
    return inTransaction(client, () => shapeRoles(client, held, inputs.roles ?? {}, inputs.existingPasswords, marker, guard));
}

/** After a create failed: the roles it made go (not those it took over), so that the next one starts clean. Never throws. */
export async function dropMadeRoles(client: Client, inputs: RolesInputs): Promise<void> {
    const taken = inputs.existingPasswords ?? {};
    const made = Object.fromEntries(Object.entries(inputs.roles ?? {}).filter(([slot]) => taken[slot] === undefined));
    await inTransaction(client, () => dropRoles(client, inputs.connection, made)).catch(() => undefined);
}

/** The names of the roles of `olds` whose slot `news` lacks. */
export const goneRoles = (olds: Readonly<Record<string, ManagedRoleSpec>>, news: Readonly<Record<string, ManagedRoleSpec>>): string[] =>
    Object.entries(olds)
        .filter(([slot]) => !(slot in news))
        .map(([, spec]) => spec.name);

/**
 * In the database, for each of `names` that exists, before it is dropped:
 * what it owns goes to `owner` (no table is lost with a role), then its
 * privileges and default privileges there go (DROP OWNED), so that DROP ROLE
 * can succeed.
 */
export async function releaseInDatabase(
    connection: AdminConnection,
    database: string,
    owner: string,
    names: readonly string[],
): Promise<void> {
    if (names.length === 0) return;
    await withAdminClient(
        connection,
        async (client) => {
            for (const name of await existingRoles(client, names)) {
                await asRole(client, connection, owner, () =>
                    asRole(client, connection, name, async () => {
                        await client.query(reassignOwned(name, owner));
                        await client.query(dropOwned(name));
                    }),
                );
            }
        },
        database,
    );
}

/** Drops every role of `roles`, members first (the database and everything that named them are gone). */
export async function dropAccessRoles(connection: AdminConnection, roles: Readonly<Record<string, ManagedRoleSpec>>): Promise<void> {
    if (Object.keys(roles).length === 0) return;
    await withAdminClient(connection, (client) => inTransaction(client, () => dropRoles(client, connection, roles)));
}
