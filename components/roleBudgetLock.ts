/**
 * The connection budget, checked again where roles are changed.
 *
 * The preview reads the server's roles before anything is applied, so two
 * stacks started together on one server each saw room for their own roles and
 * both applied (131 of 100). Every transaction that creates a login role or
 * raises a CONNECTION LIMIT therefore takes one server-wide advisory lock
 * first (transaction-scoped: released by COMMIT or ROLLBACK), reads the live
 * limits under it and refuses the change when the budget no longer fits. The
 * stack's whole plan is counted, not only the roles made so far: of two stacks
 * that do not fit together, the first to take the lock keeps the room and the
 * other is refused, instead of both being half applied.
 */
import type { Client } from "pg";
import { LOCK_NOT_AVAILABLE } from "./lockWaits";
import { applicationNameQuery, budgetRolesQuery, lockHolderQuery, lockStatement, tryLockQuery } from "./sql/budgetLock";
import { lockTimeout } from "./sql/ownership";

/** The tool's name: the lock key and the mark on its roles are derived from it. */
export const TOOL_NAME = "app-databases";

/** How long a second stack waits for the lock before it gives up (lock_timeout). */
export const LOCK_WAIT_SECONDS = 30;

/** What the budget allows on a shared server, as the resource that changes roles is given it (not diffed). */
export interface RoleBudget {
    /** The `servers` key, for messages. */
    readonly server: string;
    readonly maxConnections: number;
    /** superuser_reserved_connections + admin headroom + the tool's own connections. */
    readonly fixed: number;
    /** Roles the config declares as external, with the connections it gives them. */
    readonly externalRoles: Readonly<Record<string, number>>;
    /** Sum of the CONNECTION LIMITs of every role this stack manages on the server. */
    readonly stackTotal: number;
    /** `<project>/<stack>`: the mark on this stack's roles. */
    readonly stack: string;
}

/** The comment on a login role a stack makes: names the stack that manages it (and the database). */
export const stackRoleMarker = (stack: string, database: string) => `${TOOL_NAME} stack ${stack}: login role of database ${database}`;

/** The stack a role's comment names, or undefined (hand-made, or made before roles were marked). */
export function markedStack(comment: string | null | undefined): string | undefined {
    return comment ? /^app-databases stack (\S+):/.exec(comment)?.[1] : undefined;
}

/** A role as the check under the lock reads it. */
export interface LockedRole {
    readonly name: string;
    readonly login: boolean;
    readonly superuser: boolean;
    readonly connectionLimit: number;
    readonly comment: string | null;
}

/** Another stack's or a hand-made role's share, as the refusal names it. */
export interface ForeignShare {
    readonly name: string;
    readonly connections: number;
    readonly stack?: string;
}

export interface LockedBudget {
    readonly total: number;
    readonly fits: boolean;
    readonly foreign: ForeignShare[];
}

/**
 * The budget under the lock. `changes` are this resource's roles at their new
 * limits, `gone` names no longer on the server after the change (renamed).
 * This stack's roles count at their new limits, and what its plan has not
 * made yet is reserved. Pure.
 */
export function lockedBudget(
    budget: RoleBudget,
    live: readonly LockedRole[],
    changes: Readonly<Record<string, number>>,
    gone: readonly string[],
    admin: string,
): LockedBudget {
    let counted = 0;
    let own = 0;
    const foreign: ForeignShare[] = [];
    const seen = new Set<string>();
    for (const role of live) {
        if (gone.includes(role.name) || role.name === admin) continue;
        seen.add(role.name);
        const declared = budget.externalRoles[role.name];
        const bounded = role.login && !role.superuser && role.connectionLimit >= 0;
        const limit = changes[role.name] ?? (bounded ? role.connectionLimit : 0);
        if (declared !== undefined) {
            counted += Math.max(declared, limit);
            continue;
        }
        if (!(role.name in changes) && !bounded) continue; // NOLOGIN, superuser or unbounded (the preview refuses the last)
        counted += limit;
        const stack = markedStack(role.comment);
        if (role.name in changes || stack === budget.stack) own += limit;
        else if (limit > 0) foreign.push({ name: role.name, connections: limit, ...(stack ? { stack } : {}) });
    }
    for (const [name, limit] of Object.entries(changes)) {
        if (seen.has(name)) continue;
        counted += limit;
        own += limit;
    }
    for (const [name, declared] of Object.entries(budget.externalRoles)) if (!seen.has(name)) counted += declared;
    const total = budget.fixed + counted + Math.max(0, budget.stackTotal - own);
    return { total, fits: total <= budget.maxConnections, foreign: foreign.sort((a, b) => b.connections - a.connections) };
}

/** Who holds the lock, as pg_locks and pg_stat_activity say. */
async function lockHolder(client: Client): Promise<string> {
    const row = await client.query<{ pid: number; application_name: string | null; usename: string | null }>(lockHolderQuery(TOOL_NAME));
    const r = row.rows[0];
    return r ? `pid ${r.pid} (application_name '${r.application_name ?? "?"}', user ${r.usename ?? "?"})` : "a session that has ended";
}

/**
 * Takes the server-wide lock in the current transaction (waiting at most
 * LOCK_WAIT_SECONDS), then checks the budget with `changes` applied; throws
 * naming the server, the roles, the total and who took the room.
 * `described` says what is being done to each role, for the refusal.
 */
export async function checkUnderLock(
    client: Client,
    budget: RoleBudget,
    changes: Readonly<Record<string, number>>,
    gone: readonly string[],
    admin: string,
    described: readonly string[],
): Promise<void> {
    const where = `server ${budget.server}`;
    await client.query(lockTimeout(LOCK_WAIT_SECONDS * 1000));
    // The holder's name, as a waiting stack reads it from pg_stat_activity.
    await client.query(applicationNameQuery(`${TOOL_NAME} ${budget.stack}`));
    const got = await client.query<{ ok: boolean }>(tryLockQuery(TOOL_NAME));
    if (!got.rows[0]?.ok) {
        const holder = await lockHolder(client);
        console.error(`${where}: waiting up to ${LOCK_WAIT_SECONDS} s for the connection budget lock, held by ${holder}`);
        try {
            await client.query(lockStatement(TOOL_NAME));
        } catch (err) {
            if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
            throw new Error(
                `${where}: the connection budget lock is held by ${holder} for more than ${LOCK_WAIT_SECONDS} s ` +
                    `(another ${TOOL_NAME} up changing roles on this server); nothing was changed: run the up again once it has finished`,
            );
        }
    }
    const rows = await client.query<{
        rolname: string;
        rolcanlogin: boolean;
        rolsuper: boolean;
        rolconnlimit: number;
        comment: string | null;
    }>(budgetRolesQuery());
    const live = rows.rows.map((r) => ({
        name: r.rolname,
        login: r.rolcanlogin,
        superuser: r.rolsuper,
        connectionLimit: r.rolconnlimit,
        comment: r.comment,
    }));
    const result = lockedBudget(budget, live, changes, gone, admin);
    if (result.fits) return;
    const others = result.foreign.map((f) => `${f.name} ${f.connections} (${f.stack ? `stack ${f.stack}` : "not managed by any stack"})`);
    throw new Error(
        `${where}: refusing to ${described.join(", ")}: under the connection budget lock the server's CONNECTION LIMITs ` +
            `with this stack's plan (${budget.stackTotal}) come to ${result.total} of max_connections ${budget.maxConnections} ` +
            `(OVER BUDGET by ${result.total - budget.maxConnections}). Another stack or a hand-made role took the room since the preview` +
            (others.length > 0 ? `: ${others.join(", ")}` : "") +
            `. Nothing was changed; run the preview again for the budget table.`,
    );
}
