/**
 * The server's own login roles in the connection budget.
 *
 * The preflight reads `pg_roles` of every shared server; this module sets what
 * it found against the config: a declared external role must exist, its
 * server limit counts when larger than the config's, a login role with no
 * CONNECTION LIMIT is warned about (`unmanagedLoginRoles: warn`, the default)
 * or fails the budget (`fail`), and login roles the config does not name
 * are counted as "unmanaged on server" (and fail the preview when the
 * server's `unmanagedLoginRoles` is `fail`); those of a retired app are
 * counted with a note saying so, without a warning.
 *
 * Superusers: PostgreSQL ignores CONNECTION LIMIT for them, and they alone may
 * take the `superuser_reserved_connections` slots. No number in the budget can
 * bound them, so an undeclared superuser is listed ("superuser on server", 0
 * counted) but neither fails as unbounded nor counts as unmanaged: the
 * reserved slots are the budget's answer for administration, and an app that
 * logs in as a superuser (an app pool using `postgres`) is what the access
 * report's live connections show.
 */
import type { Client } from "pg";
import { ServerConfig } from "./config";
import { BudgetEntry, ConnectionBudgetArgs } from "../components/connectionBudget";
import { markedStack } from "../components/roleBudgetLock";
import { liveRolesQuery } from "../components/sql/catalog";

/** A role as `pg_roles` has it. */
export interface LiveRole {
    readonly name: string;
    readonly canLogin: boolean;
    /** rolconnlimit: -1 is no limit. */
    readonly connectionLimit: number;
    readonly superuser: boolean;
    readonly createRole: boolean;
    /** `<project>/<stack>` of the stack whose mark the role carries (roleBudgetLock.ts). */
    readonly managedBy?: string;
}

/** What to do about login roles the config does not name. */
export const UNMANAGED_LOGIN_ROLE_POLICIES = ["warn", "fail"] as const;
export type UnmanagedLoginRolePolicy = (typeof UNMANAGED_LOGIN_ROLE_POLICIES)[number];

/** Every role but PostgreSQL's own (`pg_*`). */
export async function readLiveRoles(client: Client): Promise<LiveRole[]> {
    const result = await client.query<{
        rolname: string;
        rolcanlogin: boolean;
        rolconnlimit: number;
        rolsuper: boolean;
        rolcreaterole: boolean;
        comment: string | null;
    }>(liveRolesQuery());
    return result.rows.map((r) => {
        const managedBy = markedStack(r.comment);
        return {
            name: r.rolname,
            canLogin: r.rolcanlogin,
            connectionLimit: r.rolconnlimit,
            superuser: r.rolsuper,
            createRole: r.rolcreaterole,
            ...(managedBy ? { managedBy } : {}),
        };
    });
}

/** What the live roles change in one server's budget. */
export interface LiveBudget {
    /** The budget arguments with the server's roles in them. */
    readonly args: ConnectionBudgetArgs;
    /** Problems with the config itself (a declared role missing): the preflight fails on them. */
    readonly configProblems: string[];
    /** Printed, not failed. */
    readonly warnings: string[];
}

/**
 * Sets a server's live roles against its budget arguments. `managed` are the
 * roles this stack manages there (they get the config's limits on `up`, so
 * the server's current ones do not count). Pure.
 */
export function applyLiveRoles(
    args: ConnectionBudgetArgs,
    server: ServerConfig,
    roles: readonly LiveRole[],
    managed: ReadonlySet<string>,
    /** `<project>/<stack>` of this stack: a role marked by another is counted as that stack's. */
    stack?: string,
    /** The roles of apps in `retiredApps`, by role: left on the server on purpose, counted but not warned about. */
    retired: ReadonlyMap<string, string> = new Map(),
): LiveBudget {
    const name = args.server;
    const live = new Map(roles.map((r) => [r.name, r]));
    const externalRoles: Record<string, number> = { ...args.externalRoles };
    const notes: Record<string, string> = { ...args.notes };
    const serverRoles: BudgetEntry[] = [];
    const problems: string[] = [...(args.problems ?? [])];
    const configProblems: string[] = [];
    const warnings: string[] = [];
    const alter = (role: string, n: number) => `ALTER ROLE ${role} CONNECTION LIMIT ${n};`;

    for (const [role, declared] of Object.entries(args.externalRoles ?? {})) {
        const found = live.get(role);
        if (!found) {
            configProblems.push(
                `servers.${name}.externalRoles.${role}: role ${role} does not exist on server ${name}; create it there, or remove it from externalRoles`,
            );
            continue;
        }
        if (found.superuser) {
            notes[role] = `superuser on server: CONNECTION LIMIT does not bind it; counted as declared`;
        } else if (!found.canLogin) {
            notes[role] = `NOLOGIN on server: counted as declared`;
        } else if (found.connectionLimit < 0) {
            notes[role] = `no CONNECTION LIMIT on server: counted as declared; ${alter(role, declared)} enforces it`;
            warnings.push(
                `server ${name}: ${role} has no CONNECTION LIMIT; the budget counts the declared ${declared} (${alter(role, declared)} enforces it)`,
            );
        } else if (found.connectionLimit !== declared) {
            const larger = Math.max(found.connectionLimit, declared);
            externalRoles[role] = larger;
            notes[role] = `server limit ${found.connectionLimit}, config ${declared}: counting the larger`;
            warnings.push(
                `server ${name}: ${role} has CONNECTION LIMIT ${found.connectionLimit} on the server but servers.${name}.externalRoles.${role} is ${declared}; the budget counts ${larger}`,
            );
        }
    }

    const policy: UnmanagedLoginRolePolicy = server.unmanagedLoginRoles;
    const unmanaged: string[] = [];
    for (const role of roles) {
        if (!role.canLogin || role.name === server.admin.username || managed.has(role.name) || role.name in externalRoles) continue;
        if (role.managedBy && role.managedBy !== stack && !role.superuser && role.connectionLimit >= 0) {
            serverRoles.push({
                name: role.name,
                kind: "another stack",
                connections: role.connectionLimit,
                stack: role.managedBy,
                note: `managed by stack ${role.managedBy}`,
            });
            continue;
        }
        if (role.superuser) {
            serverRoles.push({
                name: role.name,
                kind: "superuser on server",
                connections: 0,
                note: `superuser: no CONNECTION LIMIT applies; only for administration (the reserved slots)`,
            });
            continue;
        }
        const retiredFrom = retired.get(role.name);
        const note = retiredFrom ? `of retired app ${retiredFrom} (retiredApps): left on the server` : undefined;
        if (role.connectionLimit < 0) {
            serverRoles.push({
                name: role.name,
                kind: "unmanaged on server",
                connections: 0,
                unbounded: true,
                note: note ? `${note}; no CONNECTION LIMIT` : "no CONNECTION LIMIT",
            });
            const message =
                `login role ${role.name} on server ${name} has no CONNECTION LIMIT: it can take every free connection. ` +
                `Run ALTER ROLE ${role.name} CONNECTION LIMIT n; on the server, or declare it: servers.${name}.externalRoles.${role.name}: n`;
            // `warn` (the default) warns and goes on; `fail` refuses the preview.
            if (policy === "fail") problems.push(message);
            else warnings.push(`${message} (servers.${name}.unmanagedLoginRoles: fail refuses the preview on it)`);
            continue;
        }
        if (note) {
            serverRoles.push({ name: role.name, kind: "unmanaged on server", connections: role.connectionLimit, note });
            continue;
        }
        serverRoles.push({ name: role.name, kind: "unmanaged on server", connections: role.connectionLimit });
        unmanaged.push(role.name);
    }
    if (unmanaged.length > 0) {
        const message =
            `server ${name} has login roles the config does not name: ${unmanaged.join(", ")}. ` +
            `Declare them under servers.${name}.externalRoles` +
            (policy === "fail" ? `, or set servers.${name}.unmanagedLoginRoles: warn` : "");
        if (policy === "fail") problems.push(message);
        else warnings.push(message);
    }
    return {
        args: { ...args, externalRoles, notes, serverRoles: [...(args.serverRoles ?? []), ...serverRoles], problems },
        configProblems,
        warnings,
    };
}
