/** The server-wide advisory lock a connection budget is checked under (roleBudgetLock.ts), and what is read under it. */
import { literal, Query } from "./quote";

/** The lock's key, as SQL, from the tool's name. */
const lockKey = (name: string) => `hashtext(${literal(name)})`;

/** Takes the lock if free (`ok`), for the transaction. */
export const tryLockQuery = (name: string): Query => ({ text: `SELECT pg_try_advisory_xact_lock(${lockKey(name)}) AS ok`, values: [] });

/** Waits for the lock (as long as lock_timeout allows), for the transaction. */
export const lockStatement = (name: string): string => `SELECT pg_advisory_xact_lock(${lockKey(name)})`;

/** The holder of the lock (`pid`, `application_name`, `usename`). */
export const lockHolderQuery = (name: string): Query => ({
    text: `WITH k AS (SELECT ${lockKey(name)}::bigint AS v)
         SELECT l.pid, a.application_name, a.usename
           FROM pg_locks l CROSS JOIN k LEFT JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
            AND l.classid = ((k.v >> 32) & 4294967295)::oid AND l.objid = (k.v & 4294967295)::oid`,
    values: [],
});

/** The session's application_name, for the transaction: what a waiting stack reads in pg_stat_activity. */
export const applicationNameQuery = (name: string): Query => ({ text: "SELECT set_config('application_name', $1, true)", values: [name] });

/** Every role but PostgreSQL's own, with what the budget counts (`rolname`, `rolcanlogin`, `rolsuper`, `rolconnlimit`, `comment`). */
export const budgetRolesQuery = (): Query => ({
    text: `SELECT rolname, rolcanlogin, rolsuper, rolconnlimit, shobj_description(oid, 'pg_authid') AS comment
           FROM pg_roles WHERE rolname !~ '^pg_'`,
    values: [],
});
