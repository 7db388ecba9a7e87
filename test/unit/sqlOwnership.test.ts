/** The text of the statements objects change owner with, and of the server-wide budget lock (components/sql/ownership.ts, budgetLock.ts, serverFiles.ts). */
import { describe, expect, it } from "vitest";
import { lockHolderQuery, lockStatement, tryLockQuery } from "../../components/sql/budgetLock";
import { blockersQuery, lockTimeout, movableRelationsQuery, ownerChange, shortTransaction } from "../../components/sql/ownership";
import { writeFileStatement } from "../../components/sql/serverFiles";

describe("owner changes", () => {
    it("set the lock timeout in whole milliseconds, local to the transaction", () => {
        expect(lockTimeout(2000)).toBe("SET LOCAL lock_timeout = 2000");
    });

    it.each([0, -1, 1.5, Number.NaN])("throws when the lock timeout is %s", (ms) => {
        expect(() => lockTimeout(ms)).toThrow(`lock timeout must be a whole number of ms >= 1, got ${ms}`);
    });

    it("change one object's owner, the name as the catalog formatted it", () => {
        expect(ownerChange("MATERIALIZED VIEW", "sales.mv_daily", "shop_migrate")).toBe(
            'ALTER MATERIALIZED VIEW sales.mv_daily OWNER TO "shop_migrate"',
        );
        expect(ownerChange("FUNCTION", "sales.kpi(integer)", "shop_migrate")).toBe(
            'ALTER FUNCTION sales.kpi(integer) OWNER TO "shop_migrate"',
        );
    });

    it("run one statement in a transaction of its own with the lock timeout first", () => {
        expect(shortTransaction('ALTER TABLE sales.orders OWNER TO "shop_migrate"', 1500)).toBe(
            'BEGIN;\nSET LOCAL lock_timeout = 1500;\nALTER TABLE sales.orders OWNER TO "shop_migrate";\nCOMMIT',
        );
    });

    it("read the catalog with schemas, owners and targets bound", () => {
        expect(movableRelationsQuery(["sales"], ["postgres"]).values).toEqual([["sales"], ["postgres"]]);
        expect(blockersQuery("pg_class", 16384).values).toEqual(["pg_class", 16384]);
    });
});

describe("the budget lock", () => {
    it("is keyed by the tool's name", () => {
        expect(tryLockQuery("app-databases").text).toBe("SELECT pg_try_advisory_xact_lock(hashtext('app-databases')) AS ok");
        expect(lockStatement("app-databases")).toBe("SELECT pg_advisory_xact_lock(hashtext('app-databases'))");
        expect(lockHolderQuery("app-databases").text).toContain("hashtext('app-databases')::bigint");
    });
});

describe("a server file", () => {
    it("is written with COPY, one literal per line, in order", () => {
        expect(writeFileStatement("/data/pg_hba.conf", ["local all all trust", "host all all 0.0.0.0/0 'x'"])).toBe(
            "COPY (SELECT line FROM unnest(ARRAY['local all all trust', 'host all all 0.0.0.0/0 ''x''']::text[]) WITH ORDINALITY AS t(line, n) ORDER BY n) TO '/data/pg_hba.conf'",
        );
        expect(writeFileStatement("/f", [])).toBe(
            "COPY (SELECT line FROM unnest(ARRAY[]::text[]) WITH ORDINALITY AS t(line, n) ORDER BY n) TO '/f'",
        );
    });
});
