import { describe, expect, it } from "vitest";
import { appBackupHealth, cronMatches, formatAge, formatBackupHealth, previousRun } from "../../program/backupHealth";

describe("previousRun", () => {
    it.each([
        ["0 3 * * *", "UTC", "2026-12-07T10:00:00Z", "2026-12-07T03:00:00.000Z"],
        ["0 3 * * *", "UTC", "2026-12-07T02:59:00Z", "2026-12-06T03:00:00.000Z"],
        // 03:00 in Paris is 02:00 UTC in winter.
        ["0 3 * * *", "Europe/Paris", "2026-12-07T10:00:00Z", "2026-12-07T02:00:00.000Z"],
        ["*/15 * * * *", "UTC", "2026-12-07T10:52:30Z", "2026-12-07T10:45:00.000Z"],
        // Mondays at 09:00; 2026-12-07 is a Monday.
        ["0 9 * * 1", "UTC", "2026-12-07T08:00:00Z", "2026-11-30T09:00:00.000Z"],
        ["30 2 1 * *", "UTC", "2026-12-07T00:00:00Z", "2026-12-01T02:30:00.000Z"],
    ])("%s in %s before %s: %s", (schedule, tz, before, expected) => {
        expect(previousRun(schedule, tz, new Date(before))?.toISOString()).toBe(expected);
    });

    it("matches as the runner does, Sunday as 0 or 7", () => {
        expect(cronMatches("0 9 * * 7", new Date("2026-12-06T09:00:00Z"), "UTC")).toBe(true);
        expect(cronMatches("0 9 * * 0", new Date("2026-12-06T09:00:00Z"), "UTC")).toBe(true);
        expect(cronMatches("0 9 15 * 1", new Date("2026-12-08T09:00:00Z"), "UTC")).toBe(false);
    });
});

describe("appBackupHealth", () => {
    const good = {
        lastRunStatus: "ok",
        latest: "20261207T030000Z",
        latestEnd: "2026-12-07T03:00:04Z",
        latestSize: 2048,
        latestDrill: "passed",
        latestGood: "20261207T030000Z",
        latestGoodEnd: "2026-12-07T03:00:04Z",
        latestGoodSize: 2048,
        latestGoodDrillAt: "2026-12-07T03:00:09Z",
        latestGoodTargets: ["nas", "offsite"],
    };

    it("shows the last backup, its size and age, the last verified restore, and no warning when on schedule", () => {
        const h = appBackupHealth("shop", "0 3 * * *", "UTC", good, new Date("2026-12-07T10:00:04Z"));
        expect(h).toEqual({
            app: "shop",
            schedule: "0 3 * * *",
            lastBackup: { id: "20261207T030000Z", end: "2026-12-07T03:00:04Z", sizeBytes: 2048, drill: "passed" },
            lastVerified: {
                id: "20261207T030000Z",
                end: "2026-12-07T03:00:04Z",
                sizeBytes: 2048,
                ageSeconds: 25_200,
                drilledAt: "2026-12-07T03:00:09Z",
                targets: ["nas", "offsite"],
            },
            lastDue: "2026-12-07T03:00:00.000Z",
        });
        expect(formatBackupHealth([h], "app-databases-prod-backup")).toBe(
            [
                "Backups (runner app-databases-prod-backup):",
                "  shop: last backup 20261207T030000Z (2048 bytes, drill passed); last verified 20261207T030000Z, 7h 0m old, drilled 2026-12-07T03:00:09Z, on nas, offsite",
            ].join("\n"),
        );
    });

    it("warns when the newest verified backup is older than the schedule allows (a grace hour after the due time)", () => {
        expect(appBackupHealth("shop", "0 3 * * *", "UTC", good, new Date("2026-12-08T03:59:00Z")).warning).toBeUndefined();
        expect(appBackupHealth("shop", "0 3 * * *", "UTC", good, new Date("2026-12-08T04:01:00Z")).warning).toBe(
            'the newest verified backup (20261207T030000Z) is older than the run due at 2026-12-08T03:00:00.000Z (schedule "0 3 * * *" in UTC)',
        );
    });

    it("warns when the last run failed, and when nothing is verified though a run was due", () => {
        const failed = { ...good, lastRunStatus: "failed", lastRunMessage: "drill failed: pg_restore failed" };
        expect(appBackupHealth("shop", "0 3 * * *", "UTC", failed, new Date("2026-12-07T10:00:00Z")).warning).toBe(
            "the last run failed: drill failed: pg_restore failed",
        );
        expect(appBackupHealth("shop", "0 3 * * *", "UTC", undefined, new Date("2026-12-07T10:00:00Z")).warning).toBe(
            "no verified backup, and one was due at 2026-12-07T03:00:00.000Z",
        );
    });

    it.each([
        [42, "42s"],
        [300, "5m"],
        [11_520, "3h 12m"],
        [187_200, "2d 4h"],
    ])("says %i seconds as %s", (seconds, text) => {
        expect(formatAge(seconds)).toBe(text);
    });
});
