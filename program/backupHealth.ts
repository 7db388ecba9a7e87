/**
 * How each app's backups are, at a glance: read from the runner's status
 * (`app-databases-backup status`) and the app's schedule, for `report`. Pure:
 * the caller reads the status and the clock.
 */
import { cronProblem } from "./backupConfig";

/** What the runner's status.json says of one app (the fields read here). */
export interface RunnerAppStatus {
    readonly lastRunStatus?: string;
    readonly lastRunMessage?: string;
    readonly latest?: string;
    readonly latestEnd?: string;
    readonly latestSize?: number | null;
    readonly latestDrill?: string;
    readonly latestGood?: string;
    readonly latestGoodEnd?: string;
    readonly latestGoodSize?: number | null;
    readonly latestGoodDrillAt?: string;
    readonly latestGoodTargets?: readonly string[];
}

export interface AppBackupHealth {
    readonly app: string;
    readonly schedule: string;
    /** The newest published backup (verified or not): its id, end and size. */
    readonly lastBackup?: { readonly id: string; readonly end: string; readonly sizeBytes: number | null; readonly drill: string };
    /** The newest backup whose drill passed, how old it is, when it was drilled and where it is. */
    readonly lastVerified?: {
        readonly id: string;
        readonly end: string;
        readonly sizeBytes: number | null;
        readonly ageSeconds: number;
        readonly drilledAt: string;
        readonly targets: readonly string[];
    };
    /** The last scheduled run that should have produced a verified backup by now. */
    readonly lastDue?: string;
    /** Set when the newest verified backup is older than the schedule allows, or the last run failed. */
    readonly warning?: string;
}

/** How long after a scheduled time its backup may still be running before it counts as late. */
export const BACKUP_GRACE_SECONDS = 3600;

/** The parts of a UTC instant in a time zone: minute hour day month weekday (0 = Sunday). */
function partsIn(t: Date, timeZone: string): [number, number, number, number, number] {
    const f = new Intl.DateTimeFormat("en-US", {
        timeZone,
        hourCycle: "h23",
        minute: "numeric",
        hour: "numeric",
        day: "numeric",
        month: "numeric",
        weekday: "short",
    });
    const p = Object.fromEntries(f.formatToParts(t).map((x) => [x.type, x.value]));
    const weekday = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].indexOf(p.weekday);
    return [Number(p.minute), Number(p.hour), Number(p.day), Number(p.month), weekday];
}

function fieldMatches(value: number, field: string, min: number, max: number): boolean {
    return field.split(",").some((item) => {
        const [range, stepText] = item.split("/");
        const step = stepText === undefined ? 1 : Number(stepText);
        let [a, b] = [min, max];
        if (range !== "*") {
            const [x, y] = range.split("-").map(Number);
            [a, b] = [x, y ?? (stepText === undefined ? x : max)];
        }
        return value >= a && value <= b && (value - a) % step === 0;
    });
}

/** Whether a five-field cron expression (as cronProblem takes it) matches the minute of `t` in `timeZone`; cron's day rule. */
export function cronMatches(expression: string, t: Date, timeZone: string): boolean {
    const [M, H, D, MO, W] = expression.trim().split(/\s+/);
    const [m, h, d, mo, w] = partsIn(t, timeZone);
    if (!fieldMatches(m, M, 0, 59) || !fieldMatches(h, H, 0, 23) || !fieldMatches(mo, MO, 1, 12)) return false;
    const dom = fieldMatches(d, D, 1, 31);
    const dow = fieldMatches(w, W, 0, 7) || (w === 0 && fieldMatches(7, W, 0, 7));
    return D !== "*" && W !== "*" ? dom || dow : dom && dow;
}

/** The latest minute at or before `before` that the schedule matches, within `lookbackDays`; undefined if none. */
export function previousRun(expression: string, timeZone: string, before: Date, lookbackDays = 400): Date | undefined {
    if (cronProblem(expression)) return undefined;
    let t = Math.floor(before.getTime() / 60_000) * 60_000;
    const end = t - lookbackDays * 86_400_000;
    const H = expression.trim().split(/\s+/)[1];
    while (t > end) {
        const at = new Date(t);
        if (cronMatches(expression, at, timeZone)) return at;
        // Minute by minute only within an hour the schedule takes; otherwise to the previous hour's last minute.
        const [minute, hour] = partsIn(at, timeZone);
        t -= fieldMatches(hour, H, 0, 23) ? 60_000 : (minute + 1) * 60_000;
    }
    return undefined;
}

/** One app's backups as `report` shows them. */
export function appBackupHealth(
    app: string,
    schedule: string,
    timeZone: string,
    status: RunnerAppStatus | undefined,
    now: Date,
): AppBackupHealth {
    const due = previousRun(schedule, timeZone, new Date(now.getTime() - BACKUP_GRACE_SECONDS * 1000));
    const s = status ?? {};
    const lastBackup = s.latest
        ? { id: s.latest, end: s.latestEnd ?? "", sizeBytes: s.latestSize ?? null, drill: s.latestDrill || "unverified" }
        : undefined;
    const lastVerified = s.latestGood
        ? {
              id: s.latestGood,
              end: s.latestGoodEnd ?? "",
              sizeBytes: s.latestGoodSize ?? null,
              ageSeconds: Math.max(0, Math.round((now.getTime() - new Date(s.latestGoodEnd ?? now).getTime()) / 1000)),
              drilledAt: s.latestGoodDrillAt ?? "",
              targets: s.latestGoodTargets ?? [],
          }
        : undefined;
    let warning: string | undefined;
    if (!lastVerified) {
        warning = due ? `no verified backup, and one was due at ${due.toISOString()}` : undefined;
        if (!due && s.lastRunStatus === "failed") warning = `no verified backup; the last run failed: ${s.lastRunMessage}`;
    } else if (due && new Date(lastVerified.end) < due) {
        warning = `the newest verified backup (${lastVerified.id}) is older than the run due at ${due.toISOString()} (schedule "${schedule}" in ${timeZone})`;
    }
    if (!warning && s.lastRunStatus === "failed") warning = `the last run failed: ${s.lastRunMessage}`;
    return {
        app,
        schedule,
        ...(lastBackup ? { lastBackup } : {}),
        ...(lastVerified ? { lastVerified } : {}),
        ...(due ? { lastDue: due.toISOString() } : {}),
        ...(warning ? { warning } : {}),
    };
}

/** Seconds as a person reads an age: 42s, 5m, 3h 12m, 2d 4h. */
export function formatAge(seconds: number): string {
    if (seconds < 60) return `${seconds}s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
    if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
    return `${Math.floor(seconds / 86_400)}d ${Math.floor((seconds % 86_400) / 3600)}h`;
}

/** The text lines of `report` for a stack's backups. */
export function formatBackupHealth(apps: readonly AppBackupHealth[], runner: string): string {
    const lines = [`Backups (runner ${runner}):`];
    for (const a of apps) {
        const v = a.lastVerified;
        const last = a.lastBackup
            ? `last backup ${a.lastBackup.id} (${a.lastBackup.sizeBytes ?? "?"} bytes, drill ${a.lastBackup.drill})`
            : "no backup yet";
        const verified = v
            ? `last verified ${v.id}, ${formatAge(v.ageSeconds)} old, drilled ${v.drilledAt || "?"}, on ${v.targets.join(", ")}`
            : "none verified";
        lines.push(`  ${a.app}: ${last}; ${verified}`);
        if (a.warning) lines.push(`    WARNING: ${a.warning}`);
    }
    return lines.join("\n");
}
