/**
 * The pure parts of moving adopted objects without blocking a service: the
 * backoff, the messages, and the retry rounds on a fake clock
 * (the real server is test/e2e/adoptionLocks.test.ts).
 */
import { describe, expect, it } from "vitest";
import {
    backoffMs,
    Blocker,
    describeBlocker,
    LockingStep,
    nameList,
    Progress,
    runInRounds,
    shortQuery,
    stopMessage,
    waitingLine,
} from "../../components/lockWaits";
import { lockWaitOf } from "../../components/objectOwnership";

const REPORT: Blocker = {
    pid: 4242,
    username: "postgres",
    application: "nightly-report",
    backendType: "client backend",
    state: "idle in transaction",
    xactSeconds: 13,
    stateSeconds: 12,
    query: "SELECT count(*) FROM sales.orders",
};

const step = (label: string, oid: number): LockingStep => ({
    label,
    statement: `ALTER TABLE ${label} OWNER TO "shop_migrate"`,
    target: { catalog: "pg_class", oid },
});

describe("the lock wait settings", () => {
    it("defaults to 2 s per lock and 60 s in all", () => {
        expect(lockWaitOf({})).toEqual({ lockTimeoutMs: 2000, maxWaitSeconds: 60 });
        expect(lockWaitOf({ lockTimeoutMs: 500, maxWaitSeconds: 0 })).toEqual({ lockTimeoutMs: 500, maxWaitSeconds: 0 });
    });

    it("throws when the lock timeout is 0, naming the argument", () => {
        expect(() => lockWaitOf({ lockTimeoutMs: 0 })).toThrow(
            "ObjectOwnership: `lockTimeoutMs` must be a lock wait in milliseconds from 1 to 60000 (services' reads of a table queue behind it that long), got 0",
        );
    });

    it("throws when the total wait is too long, naming the argument by AppDatabase's path", () => {
        expect(() => lockWaitOf({ maxWaitSeconds: 7200 }, "AppDatabase", "adopt.moveObjects.")).toThrow(
            "AppDatabase: `adopt.moveObjects.maxWaitSeconds` must be seconds from 0 to 3600 (0: one try per object, no retries), got 7200",
        );
    });
});

describe("backoff", () => {
    it.each([
        [0, 250],
        [1, 500],
        [2, 1000],
        [3, 2000],
        [4, 4000],
        [5, 8000],
        [6, 8000],
        [20, 8000],
    ])("waits %i rounds in: %i ms", (round, ms) => {
        expect(backoffMs(round)).toBe(ms);
    });
});

describe("messages", () => {
    it("describes a blocking session: pid, user, application, state and how long, the query's start", () => {
        expect(describeBlocker(REPORT)).toBe(
            'pid 4242 (user postgres, application "nightly-report", idle in transaction for 12 s, transaction open 13 s): "SELECT count(*) FROM sales.orders"',
        );
        expect(describeBlocker({ ...REPORT, application: "", xactSeconds: null, state: "active", stateSeconds: 0 })).toBe(
            'pid 4242 (user postgres, application (none), active for 0 s): "SELECT count(*) FROM sales.orders"',
        );
    });

    it("keeps the first 60 characters of a query, whitespace collapsed", () => {
        const long =
            "SELECT customer,\n       sum(amount)\n  FROM sales.orders JOIN sales.customers ON customers.id = orders.customer GROUP BY 1";
        expect(shortQuery(long)).toBe("SELECT customer, sum(amount) FROM sales.orders JOIN sales.c…");
        expect(shortQuery(long)).toHaveLength(60);
        expect(shortQuery(null)).toBe("");
    });

    it("lists at most 20 names, then how many more", () => {
        const names = Array.from({ length: 23 }, (_, i) => `t${i}`);
        expect(nameList(names)).toBe(`${names.slice(0, 20).join(", ")} and 3 more`);
        expect(nameList(["a", "b"])).toBe("a, b");
    });

    it("says while waiting what waits, for how long, when it tries again and who is in the way", () => {
        const progress: Progress<LockingStep> = {
            waiting: [step("sales.orders", 1)],
            blockers: [REPORT],
            waitedMs: 3400,
            retryInMs: 1000,
            done: 5,
        };
        expect(waitingLine("shop_db", progress, { lockTimeoutMs: 2000, maxWaitSeconds: 60 })).toBe(
            "database shop_db: 1 object waits for a lock (sales.orders); waited 3 s of 60 s, next try in 1.0 s, 5 done so far. " +
                'In the way: pid 4242 (user postgres, application "nightly-report", idle in transaction for 12 s, transaction open 13 s): "SELECT count(*) FROM sales.orders"',
        );
    });

    it("stops with what moved, what did not, who is in the way, and that the next up continues", () => {
        expect(
            stopMessage({
                database: "shop_db",
                to: "shop_migrate",
                total: 6,
                moved: 5,
                left: ["sales.orders"],
                blockers: [REPORT],
                waitedMs: 60_200,
            }),
        ).toBe(
            [
                "database shop_db: moved 5 of 6 objects to shop_migrate; 1 not done, still locked by other sessions after waiting 60 s (adopt.moveObjects.maxWaitSeconds).",
                "  not moved: sales.orders",
                '  in the way: pid 4242 (user postgres, application "nightly-report", idle in transaction for 12 s, transaction open 13 s): "SELECT count(*) FROM sales.orders"',
                "Every object stays usable, moved or not, and this step holds no lock any more. End those sessions or let them finish, then run `pulumi up` again: it moves the rest.",
            ].join("\n"),
        );
    });

    it("says so when no session holds the locks any more", () => {
        const message = stopMessage({ database: "d", to: "o", total: 1, moved: 0, left: ["s.t"], blockers: [], waitedMs: 1000 });
        expect(message).toContain("  in the way: no session holds a lock on them now (the locks were short-lived)");
    });
});

/** A server on a fake clock: `locked` holds each label's lock until a time (ms), by `holder`. */
function fakeServer(locked: Record<string, number>, lockTimeoutMs: number, holder: Blocker = REPORT) {
    let now = 0;
    const attempts: string[] = [];
    const reports: Progress<LockingStep>[] = [];
    const sleeps: number[] = [];
    const isLocked = (s: LockingStep) => now < (locked[s.label] ?? -1);
    return {
        attempts,
        reports,
        sleeps,
        io: {
            async attempt(s: LockingStep) {
                attempts.push(s.label);
                if (isLocked(s)) {
                    now += lockTimeoutMs;
                    return false;
                }
                now += 1;
                return true;
            },
            async holders(s: LockingStep) {
                return isLocked(s) ? [holder] : [];
            },
            report: (p: Progress<LockingStep>) => void reports.push(p),
            async sleep(ms: number) {
                sleeps.push(ms);
                now += ms;
            },
            now: () => now,
        },
    };
}

describe("retry rounds", () => {
    const steps = [step("sales.customers", 1), step("sales.orders", 2), step("sales.v_totals", 3)];

    it("does each step once when nothing is locked, without looking for blockers", async () => {
        const server = fakeServer({}, 2000);
        const result = await runInRounds(steps, { lockTimeoutMs: 2000, maxWaitSeconds: 60 }, server.io);
        expect(result).toEqual({ done: steps, left: [], blockers: [], waitedMs: 0 });
        expect(server.attempts).toEqual(["sales.customers", "sales.orders", "sales.v_totals"]);
        expect(server.reports).toEqual([]);
    });

    it("moves the rest while one is locked, retries it with backoff and finishes once it is free", async () => {
        const server = fakeServer({ "sales.orders": 5000 }, 2000);
        const result = await runInRounds(steps, { lockTimeoutMs: 2000, maxWaitSeconds: 60 }, server.io);
        expect(result.done.map((s) => s.label)).toEqual(["sales.customers", "sales.v_totals", "sales.orders"]);
        expect(result.left).toEqual([]);
        // Tried once (waiting its lock timeout), then only when no session held it any more.
        expect(server.attempts).toEqual(["sales.customers", "sales.orders", "sales.v_totals", "sales.orders"]);
        expect(server.sleeps).toEqual([250, 500, 1000, 2000]);
        expect(server.reports.map((r) => r.waiting.map((s) => s.label))).toEqual([
            ["sales.orders"],
            ["sales.orders"],
            ["sales.orders"],
            ["sales.orders"],
        ]);
        expect(server.reports[0]).toMatchObject({ blockers: [REPORT], done: 2, retryInMs: 250 });
    });

    it("stops after the total wait with what is left and who holds it, the last try at the deadline", async () => {
        const server = fakeServer({ "sales.orders": Infinity }, 2000);
        const result = await runInRounds(steps, { lockTimeoutMs: 2000, maxWaitSeconds: 10 }, server.io);
        expect(result.left.map((s) => s.label)).toEqual(["sales.orders"]);
        expect(result.blockers).toEqual([REPORT]);
        expect(result.waitedMs).toBeGreaterThanOrEqual(10_000);
        expect(result.waitedMs).toBeLessThan(10_100);
        // 250, 500, 1000, 2000, 4000 ms of backoff, then what is left of the 10 s (the first wait ended at 2 s).
        expect(server.sleeps).toEqual([250, 500, 1000, 2000, 4000, 249]);
        // Never queued behind the held lock again after the first wait.
        expect(server.attempts.filter((a) => a === "sales.orders")).toHaveLength(1);
    });

    it("tries each step once and stops at the first lock with maxWaitSeconds 0", async () => {
        const server = fakeServer({ "sales.customers": Infinity }, 2000);
        const result = await runInRounds(steps, { lockTimeoutMs: 2000, maxWaitSeconds: 0 }, server.io);
        expect(result.done.map((s) => s.label)).toEqual(["sales.orders", "sales.v_totals"]);
        expect(result.left.map((s) => s.label)).toEqual(["sales.customers"]);
        expect(server.sleeps).toEqual([]);
        expect(server.reports).toEqual([]);
    });

    it("skips the steps another session visibly holds once one wait has happened", async () => {
        const server = fakeServer({ "sales.customers": Infinity, "sales.orders": Infinity }, 2000);
        await runInRounds(steps, { lockTimeoutMs: 2000, maxWaitSeconds: 0 }, server.io);
        // customers waited its lock timeout; orders was seen held and not tried.
        expect(server.attempts).toEqual(["sales.customers", "sales.v_totals"]);
    });

    it("still tries a step only an autovacuum worker holds (it gives way to a lock request)", async () => {
        const autovacuum: Blocker = {
            ...REPORT,
            pid: 77,
            backendType: "autovacuum worker",
            application: "",
            query: "autovacuum: VACUUM sales.orders",
        };
        const server = fakeServer({ "sales.customers": Infinity, "sales.orders": Infinity }, 2000, autovacuum);
        await runInRounds(steps, { lockTimeoutMs: 2000, maxWaitSeconds: 0 }, server.io);
        expect(server.attempts).toEqual(["sales.customers", "sales.orders", "sales.v_totals"]);
    });

    it("names each blocking session once", async () => {
        const server = fakeServer({ "sales.customers": Infinity, "sales.orders": Infinity }, 2000);
        const result = await runInRounds(steps, { lockTimeoutMs: 2000, maxWaitSeconds: 1 }, server.io);
        expect(result.left).toHaveLength(2);
        expect(result.blockers).toEqual([REPORT]);
    });
});
