/**
 * The runner script's schedule matcher (scripts/backup-image/app-databases-backup),
 * run in bash: the expressions the config takes (cronProblem) match the minutes cron would.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { cronProblem } from "../../program/backupConfig";

const SCRIPT = path.resolve(__dirname, "../../scripts/backup-image/app-databases-backup");

/** Whether the script's cron_match takes `expression` at `time` in `tz`. */
function matches(expression: string, time: string, tz = "UTC"): boolean {
    const epoch = Math.floor(new Date(time).getTime() / 1000);
    const r = spawnSync("bash", ["-c", `source "$0"; cron_match "$1" "$2"`, SCRIPT, expression, String(epoch)], {
        encoding: "utf8",
        env: { ...process.env, APP_DATABASES_BACKUP_FUNCTIONS_ONLY: "1", TZ: tz },
    });
    if (r.status !== 0 && r.status !== 1) throw new Error(`bash failed (${r.status}): ${r.stderr}`);
    return r.status === 0;
}

describe("the runner's cron matcher", () => {
    it.each([
        ["0 3 * * *", "2026-12-07T03:00:00Z", true],
        ["0 3 * * *", "2026-12-07T03:01:00Z", false],
        ["0 3 * * *", "2026-12-07T04:00:00Z", false],
        ["*/15 * * * *", "2026-12-07T10:45:00Z", true],
        ["*/15 * * * *", "2026-12-07T10:50:00Z", false],
        ["5-20/5 * * * *", "2026-12-07T10:15:00Z", true],
        ["5-20/5 * * * *", "2026-12-07T10:25:00Z", false],
        ["0 0 1,15 * *", "2026-12-15T00:00:00Z", true],
        ["0 0 1,15 * *", "2026-12-14T00:00:00Z", false],
        // 2026-12-07 is a Monday; Sunday is 0 or 7.
        ["0 9 * * 1-5", "2026-12-07T09:00:00Z", true],
        ["0 9 * * 1-5", "2026-12-06T09:00:00Z", false],
        ["0 9 * * 7", "2026-12-06T09:00:00Z", true],
        ["0 9 * * 0", "2026-12-06T09:00:00Z", true],
        // Day of month and day of week both restricted: either matches, as cron has it.
        ["0 9 15 * 1", "2026-12-07T09:00:00Z", true],
        ["0 9 15 * 1", "2026-12-08T09:00:00Z", false],
        ["30 2 * 12 *", "2026-12-31T02:30:00Z", true],
        ["30 2 * 11 *", "2026-12-31T02:30:00Z", false],
        ["08 09 * * *", "2026-12-07T09:08:00Z", true],
    ])("%s at %s: %s", (expression, time, expected) => {
        expect(cronProblem(expression)).toBeUndefined();
        expect(matches(expression, time)).toBe(expected);
    });

    it("reads the schedule in the runner's time zone", () => {
        // 03:00 in Paris is 02:00 UTC in winter.
        expect(matches("0 3 * * *", "2026-12-07T02:00:00Z", "Europe/Paris")).toBe(true);
        expect(matches("0 3 * * *", "2026-12-07T03:00:00Z", "Europe/Paris")).toBe(false);
    });
});

describe("the runner's retention", () => {
    it("keeps the newest keepLast and the newest of each day and week asked for, and drops failed drills older than a good one", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "retention-"));
        const app = path.join(dir, "shop");
        const backups: Record<string, string | undefined> = {
            "20261201T030000Z": "passed",
            "20261202T030000Z": "passed",
            "20261203T030000Z": "passed",
            "20261204T030000Z": "passed",
            "20261205T030000Z": "passed",
            "20261206T030000Z": "passed",
            "20261206T120000Z": "failed",
            "20261207T030000Z": "passed",
            "20261207T100000Z": "passed",
            "20261207T110000Z": "passed",
            // Newer than every good one, its drill not run yet: kept.
            "20261207T120000Z": undefined,
        };
        for (const [id, drill] of Object.entries(backups)) {
            fs.mkdirSync(path.join(app, id), { recursive: true });
            if (drill) fs.writeFileSync(path.join(app, id, "drill.json"), `{\n  "status": "${drill}",\n  "at": "x"\n}\n`);
        }
        try {
            const r = spawnSync("bash", ["-c", `source "$0"; TARGET_PATH="$1"; retention shop 2 3 2 0`, SCRIPT, dir], {
                encoding: "utf8",
                env: { ...process.env, APP_DATABASES_BACKUP_FUNCTIONS_ONLY: "1", TZ: "UTC" },
            });
            expect(r.status, r.stderr).toBe(0);
            // Weeks: 2026-12-07 is a Monday, so the 6th is the newest of the week before.
            expect(fs.readdirSync(app).sort()).toEqual([
                "20261205T030000Z",
                "20261206T030000Z",
                "20261207T100000Z",
                "20261207T110000Z",
                "20261207T120000Z",
            ]);
            expect(r.stderr).toContain("retention: removed shop/20261206T120000Z (drill not passed, older than 20261207T110000Z)");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
