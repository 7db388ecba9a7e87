/**
 * How ObjectOwnership changes owners without blocking a running service.
 *
 * `ALTER ... OWNER TO` takes an ACCESS EXCLUSIVE lock. It waits behind any
 * open transaction that touched the object (a report, a session idle in
 * transaction), and every plain read of the object queues behind that wait.
 * So each change is its own short transaction with a small `lock_timeout`: no
 * lock is held on one object while waiting for another, and a read queues
 * behind a waiting change for at most that long. An object that cannot be
 * locked is left for a later round (backoff); once one wait has happened, an
 * object that another session visibly holds a lock on is not even tried, so
 * nothing queues behind it. After the total wait the step stops and names the
 * sessions in the way; what moved stays moved, so the next `up` continues.
 *
 * The statements are built by sql/ownership.ts; the retry rounds take their
 * I/O as arguments so they can be tested without a server.
 */
import type { Client } from "pg";
import { blockersQuery, shortTransaction } from "./sql/ownership";

/** The catalog row a lock is taken on: a relation, a routine or a schema. */
export interface LockTarget {
    readonly catalog: "pg_class" | "pg_proc" | "pg_namespace";
    readonly oid: number;
}

/** One short transaction: a statement and what it locks. */
export interface LockingStep {
    /** How the step reads in a message, e.g. `tracksolid.positions`. */
    readonly label: string;
    readonly statement: string;
    readonly target: LockTarget;
}

/** A session holding a lock in the way, as pg_stat_activity shows it. */
export interface Blocker {
    readonly pid: number;
    readonly username: string | null;
    readonly application: string | null;
    readonly backendType: string | null;
    readonly state: string | null;
    /** Seconds since its transaction began (null: none open). */
    readonly xactSeconds: number | null;
    /** Seconds in its current state. */
    readonly stateSeconds: number | null;
    readonly query: string | null;
}

export interface LockWaitOptions {
    /** How long one statement waits for its lock. */
    readonly lockTimeoutMs: number;
    /** How long locked steps are retried, from the first wait (0: each step is tried once). */
    readonly maxWaitSeconds: number;
}

/** SQLSTATE lock_not_available: a lock_timeout ran out. */
export const LOCK_NOT_AVAILABLE = "55P03";
/** lock_not_available and deadlock_detected: try again later. */
const RETRYABLE = new Set([LOCK_NOT_AVAILABLE, "40P01"]);

/** Runs `statement` in a short transaction; false when it could not get its lock in time (rolled back). */
export async function tryInShortTransaction(client: Client, statement: string, lockTimeoutMs: number): Promise<boolean> {
    try {
        await client.query(shortTransaction(statement, lockTimeoutMs));
        return true;
    } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        if (RETRYABLE.has((err as { code?: string }).code ?? "")) return false;
        throw err;
    }
}

export async function blockersOf(client: Client, target: LockTarget): Promise<Blocker[]> {
    return (await client.query<Blocker>(blockersQuery(target.catalog, target.oid))).rows;
}

/** An autovacuum worker cancels itself when it blocks a lock request: worth trying anyway. */
const yields = (b: Blocker) => b.backendType === "autovacuum worker";

/** Milliseconds before retry round `round` (0-based): 250 ms, doubling, at most 8 s. */
export function backoffMs(round: number): number {
    return Math.min(250 * 2 ** round, 8_000);
}

/** Where the retry rounds read the clock, sleep, run a step and report. */
export interface RoundsIO<S extends LockingStep> {
    /** True: done; false: its lock was not available within the lock timeout. */
    attempt(step: S): Promise<boolean>;
    holders(step: S): Promise<Blocker[]>;
    report(progress: Progress<S>): void;
    sleep(ms: number): Promise<void>;
    now(): number;
}

/** What is waiting between two rounds. */
export interface Progress<S extends LockingStep> {
    readonly waiting: readonly S[];
    readonly blockers: readonly Blocker[];
    readonly waitedMs: number;
    readonly retryInMs: number;
    /** Steps done so far. */
    readonly done: number;
}

export interface RoundsResult<S extends LockingStep> {
    readonly done: readonly S[];
    /** Steps not done when the wait ran out, in their order. */
    readonly left: readonly S[];
    /** The sessions in the way of `left`, one per pid. */
    readonly blockers: readonly Blocker[];
    readonly waitedMs: number;
}

/**
 * Runs every step once, then retries the locked ones in rounds with backoff
 * until all are done or `maxWaitSeconds` have passed since the first wait.
 */
export async function runInRounds<S extends LockingStep>(
    steps: readonly S[],
    options: LockWaitOptions,
    io: RoundsIO<S>,
): Promise<RoundsResult<S>> {
    const maxWaitMs = options.maxWaitSeconds * 1000;
    const done: S[] = [];
    const held = new Map<S, Blocker[]>();
    let firstWait: number | undefined;
    let pending = [...steps];
    for (let round = 0; ; round++) {
        const next: S[] = [];
        for (const step of pending) {
            if (firstWait !== undefined) {
                // A retry round ran out of time (attempts timed out with no holder in sight): the rest stay for the next `up`.
                if (round > 0 && io.now() - firstWait >= maxWaitMs + options.lockTimeoutMs) {
                    next.push(step);
                    continue;
                }
                const holding = await io.holders(step);
                if (holding.some((b) => !yields(b))) {
                    held.set(step, holding);
                    next.push(step);
                    continue;
                }
            }
            if (await io.attempt(step)) {
                done.push(step);
                held.delete(step);
                continue;
            }
            firstWait ??= io.now() - options.lockTimeoutMs;
            held.set(step, await io.holders(step));
            next.push(step);
        }
        const waitedMs = firstWait === undefined ? 0 : io.now() - firstWait;
        const blockers = distinctBlockers(next.flatMap((s) => held.get(s) ?? []));
        if (next.length === 0) return { done, left: [], blockers: [], waitedMs };
        // The last retry comes at the end of the wait, not a backoff step before it.
        const retryInMs = Math.min(backoffMs(round), maxWaitMs - waitedMs);
        if (retryInMs <= 0) return { done, left: next, blockers, waitedMs };
        io.report({ waiting: next, blockers, waitedMs, retryInMs, done: done.length });
        await io.sleep(retryInMs);
        pending = next;
    }
}

function distinctBlockers(all: readonly Blocker[]): Blocker[] {
    const byPid = new Map<number, Blocker>();
    for (const b of all) if (!byPid.has(b.pid)) byPid.set(b.pid, b);
    return [...byPid.values()];
}

/** A query as it reads in a message: whitespace collapsed, at most `max` characters. */
export function shortQuery(query: string | null, max = 60): string {
    const flat = (query ?? "").replace(/\s+/g, " ").trim();
    return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** `pid 4242 (user postgres, application "report", idle in transaction for 12 s, transaction open 13 s): "SELECT ..."` */
export function describeBlocker(b: Blocker): string {
    const state = b.state ?? b.backendType ?? "unknown state";
    const facts = [
        `user ${b.username ?? "(none)"}`,
        `application ${b.application ? `"${b.application}"` : "(none)"}`,
        b.stateSeconds === null ? state : `${state} for ${b.stateSeconds} s`,
        ...(b.xactSeconds === null ? [] : [`transaction open ${b.xactSeconds} s`]),
    ];
    return `pid ${b.pid} (${facts.join(", ")}): "${shortQuery(b.query)}"`;
}

/** Names as they read in a message: the first `max`, then how many more. */
export function nameList(names: readonly string[], max = 20): string {
    const shown = names.slice(0, max).join(", ");
    return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

function blockerLines(blockers: readonly Blocker[], max = 5): string {
    if (blockers.length === 0) return "no session holds a lock on them now (the locks were short-lived)";
    const shown = blockers.slice(0, max).map(describeBlocker).join("; ");
    return blockers.length > max ? `${shown}; and ${blockers.length - max} more sessions` : shown;
}

/** The line printed between two rounds. */
export function waitingLine(database: string, progress: Progress<LockingStep>, options: LockWaitOptions): string {
    const n = progress.waiting.length;
    return (
        `database ${database}: ${n} ${n === 1 ? "object waits" : "objects wait"} for a lock (${nameList(progress.waiting.map((s) => s.label))}); ` +
        `waited ${seconds(progress.waitedMs)} of ${options.maxWaitSeconds} s, next try in ${(progress.retryInMs / 1000).toFixed(1)} s, ` +
        `${progress.done} done so far. In the way: ${blockerLines(progress.blockers)}`
    );
}

/** What the step did when it stops waiting. */
export interface StopReport {
    readonly database: string;
    readonly to: string;
    /** Objects found to move. */
    readonly total: number;
    readonly moved: number;
    /** What was not done: schema grants and objects, by label. */
    readonly left: readonly string[];
    readonly blockers: readonly Blocker[];
    readonly waitedMs: number;
}

/** The error the step stops with: what moved, what did not and why, and that the next `up` continues. */
export function stopMessage(r: StopReport): string {
    return [
        `database ${r.database}: moved ${r.moved} of ${r.total} objects to ${r.to}; ` +
            `${r.left.length} not done, still locked by other sessions after waiting ${seconds(r.waitedMs)} (adopt.moveObjects.maxWaitSeconds).`,
        `  not moved: ${nameList(r.left)}`,
        `  in the way: ${blockerLines(r.blockers)}`,
        "Every object stays usable, moved or not, and this step holds no lock any more. " +
            "End those sessions or let them finish, then run `pulumi up` again: it moves the rest.",
    ].join("\n");
}
