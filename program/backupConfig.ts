/**
 * The stack's `backup` block and each app's `backup` overrides: the schedule,
 * retention, dump format and target of the backup runner
 * (components/backupRunner.ts), validated by path like the rest of the config
 * before anything is applied.
 */
import { isAbsolute } from "node:path";
import { z } from "zod";
import type { BackupRunnerS3Target } from "../components/backupRunner";
import { describeValue as describe } from "../components/defaults";
import { identifierProblem } from "../components/identifiers";
import { footprintOf } from "./footprint";

/** The image scripts/backup-image.sh builds: PostgreSQL 18's client tools (they dump 14-18) and a server of each major 14-18 for the drill. */
export const DEFAULT_BACKUP_IMAGE = "app-databases/backup-runner:14-18";
/** Every night at 03:00 in the stack's time zone. */
export const DEFAULT_BACKUP_SCHEDULE = "0 3 * * *";
export const DEFAULT_BACKUP_TIME_ZONE = "UTC";
export const DEFAULT_BACKUP_ROLE = "app_databases_backup";
export const DEFAULT_S3_REGION = "us-east-1";
export const DEFAULT_RETENTION = { keepLast: 7, daily: 7, weekly: 4, monthly: 6 } as const;
export const BACKUP_FORMATS = ["custom", "directory"] as const;
export type BackupFormat = (typeof BACKUP_FORMATS)[number];

/** The ranges of one cron field, and what it is, for messages. */
const CRON_FIELDS = [
    { name: "minute", min: 0, max: 59 },
    { name: "hour", min: 0, max: 23 },
    { name: "day of month", min: 1, max: 31 },
    { name: "month", min: 1, max: 12 },
    { name: "day of week", min: 0, max: 7 },
] as const;

/**
 * What is wrong with a five-field cron expression, or undefined. Numbers, `*`,
 * ranges `a-b`, steps `/n` and lists `,` (the runner's matcher reads the same);
 * names (`mon`, `jan`) and `@daily` are not taken.
 */
export function cronProblem(expression: string): string | undefined {
    const fields = expression.trim().split(/\s+/);
    if (fields.length !== 5) {
        return `expected a cron schedule of 5 fields (minute hour day-of-month month day-of-week), e.g. "0 3 * * *", got ${JSON.stringify(expression)}`;
    }
    for (const [i, field] of fields.entries()) {
        const { name, min, max } = CRON_FIELDS[i];
        for (const item of field.split(",")) {
            const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
            const bad = `expected the ${name} field as numbers from ${min} to ${max}, *, a-b, /step or lists, got ${JSON.stringify(field)} in ${JSON.stringify(expression)}`;
            if (!m) return bad;
            const [a, b, step] = [m[2], m[3], m[4]].map((v) => (v === undefined ? undefined : Number(v)));
            if ((a !== undefined && (a < min || a > max)) || (b !== undefined && (b < min || b > max || b < a!))) return bad;
            if (step !== undefined && step < 1) return bad;
        }
    }
    return undefined;
}

const int = (min: number, max: number, what: string) =>
    z
        .number({ error: (i) => `expected ${what}, got ${describe(i.input)}` })
        .int({ error: (i) => `expected ${what}, got ${describe(i.input)}` })
        .min(min, { error: (i) => `expected ${what}, got ${describe(i.input)}` })
        .max(max, { error: (i) => `expected ${what}, got ${describe(i.input)}` });

const schedule = z
    .string({ error: (i) => `expected a cron schedule such as "0 3 * * *", got ${describe(i.input)}` })
    .superRefine((v, ctx) => {
        const problem = cronProblem(v);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    });

const timeZone = z
    .string({ error: (i) => `expected an IANA time zone such as "Europe/Paris", got ${describe(i.input)}` })
    .superRefine((v, ctx) => {
        try {
            new Intl.DateTimeFormat("en", { timeZone: v });
        } catch {
            ctx.addIssue({
                code: "custom",
                message: `expected an IANA time zone such as "Europe/Paris" or "UTC", got ${JSON.stringify(v)}`,
            });
        }
    });

const generations = (what: string) => int(0, 10_000, `${what} as an integer from 0 to 10000`);
const retentionShape = {
    /** The newest good backups kept whatever their age. */
    keepLast: int(1, 10_000, "a count of backups as an integer from 1 to 10000"),
    /** The newest good backup of each of the latest this many days (weeks, months) with one. */
    daily: generations("a count of days"),
    weekly: generations("a count of weeks"),
    monthly: generations("a count of months"),
};
const retention = z.strictObject({
    keepLast: retentionShape.keepLast.default(DEFAULT_RETENTION.keepLast),
    daily: retentionShape.daily.default(DEFAULT_RETENTION.daily),
    weekly: retentionShape.weekly.default(DEFAULT_RETENTION.weekly),
    monthly: retentionShape.monthly.default(DEFAULT_RETENTION.monthly),
});

const format = z.enum(BACKUP_FORMATS, { error: (i) => `expected one of ${BACKUP_FORMATS.join(", ")}, got ${describe(i.input)}` });
const jobs = int(1, 64, "parallel pg_dump jobs as an integer from 1 to 64 (directory format)");
const compression = int(0, 9, "a pg_dump compression level from 0 (none) to 9");

const absolutePath = z
    .string({ error: (i) => `expected an absolute path on the Docker host, got ${describe(i.input)}` })
    .superRefine((v, ctx) => {
        if (!isAbsolute(v) || v.includes("\t") || v.includes("\n") || v.includes(":")) {
            ctx.addIssue({
                code: "custom",
                message: `expected an absolute path on the Docker host (no ":" or tabs), e.g. "/mnt/nas/pg-backups", got ${JSON.stringify(v)}`,
            });
        }
    });

const text = (what: string) =>
    z
        .string({ error: (i) => `expected ${what}, got ${describe(i.input)}` })
        .min(1, { error: () => `expected ${what}, got an empty string` })
        .refine((v) => !/[\t\n\r]/.test(v), { error: () => `expected ${what} without tabs or newlines` });

/** S3's bucket naming rules (3-63 characters, lowercase letters, digits, dots and hyphens). */
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const s3Target = z.strictObject({
    /** http(s)://host[:port] of the S3 API (AWS's regional endpoint, SeaweedFS, Ceph RGW, Garage, ...). */
    endpoint: z
        .string({ error: (i) => `expected the S3 endpoint as http(s)://host[:port], got ${describe(i.input)}` })
        .superRefine((v, ctx) => {
            let ok = false;
            try {
                const u = new URL(v);
                ok = (u.protocol === "http:" || u.protocol === "https:") && u.host !== "" && u.pathname === "/" && !u.search && !u.username;
            } catch {
                ok = false;
            }
            if (!ok)
                ctx.addIssue({
                    code: "custom",
                    message: `expected the S3 endpoint as http(s)://host[:port], e.g. "https://s3.eu-central-1.amazonaws.com", got ${JSON.stringify(v)}`,
                });
        }),
    bucket: z.string({ error: (i) => `expected a bucket name, got ${describe(i.input)}` }).regex(BUCKET_RE, {
        error: (i) => `expected a bucket name (3-63 lowercase letters, digits, dots, hyphens), got ${describe(i.input)}`,
    }),
    /** Keys start with it (a folder in the bucket); "" puts the apps at the top. */
    prefix: z
        .string({ error: (i) => `expected a key prefix such as "prod/", got ${describe(i.input)}` })
        .refine((v) => !v.startsWith("/") && !/[\t\n\r]/.test(v) && !v.includes("//"), {
            error: (i) => `expected a key prefix such as "prod/" (no leading /, no tabs), got ${describe(i.input)}`,
        })
        .default(""),
    region: z
        .string({ error: (i) => `expected a region such as "eu-central-1", got ${describe(i.input)}` })
        .regex(/^[a-z0-9-]+$/, { error: (i) => `expected a region such as "eu-central-1", got ${describe(i.input)}` })
        .default(DEFAULT_S3_REGION),
    /** Secret: `pulumi config set --secret --path backup.targets.<name>.s3.accessKeyId`. */
    accessKeyId: text("the access key id (set it with `pulumi config set --secret --path`)"),
    secretAccessKey: text("the secret access key (set it with `pulumi config set --secret --path`)"),
    /** Bucket in the path (most self-hosted servers) rather than in the host name (AWS's virtual-hosted style). */
    pathStyle: z.boolean({ error: (i) => `expected true or false, got ${describe(i.input)}` }).default(true),
});

const target = z.union(
    [
        /** A directory on the Docker host (a local disk or a NAS mount), bind-mounted into the runner. */
        z.strictObject({ directory: z.strictObject({ path: absolutePath }) }),
        /** An S3-compatible bucket. */
        z.strictObject({ s3: s3Target }),
    ],
    {
        error: () =>
            "expected a target such as { directory: { path: /mnt/nas/pg-backups } } or { s3: { endpoint, bucket, accessKeyId, secretAccessKey } }",
    },
);
/** The kind of a raw target: its one key, to validate against that kind alone (a union's messages name neither). */
const TARGET_KINDS = { directory: target.options[0], s3: target.options[1] } as const;

const roleName = z.string({ error: (i) => `expected a role name, got ${describe(i.input)}` }).superRefine((v, ctx) => {
    const problem = identifierProblem(v);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});

export const backupSchema = z.strictObject({
    schedule: schedule.default(DEFAULT_BACKUP_SCHEDULE),
    /** The schedule's time zone (and retention's days, weeks and months). */
    timeZone: timeZone.default(DEFAULT_BACKUP_TIME_ZONE),
    retention: retention.default({ ...DEFAULT_RETENTION }),
    format: format.default("custom"),
    jobs: jobs.default(1),
    compression: compression.optional(),
    /** The login role the runner connects as on each server: NOSUPERUSER, a member of pg_read_all_data. */
    role: roleName.default(DEFAULT_BACKUP_ROLE),
    image: z
        .string({ error: (i) => `expected a Docker image reference, got ${describe(i.input)}` })
        .min(1)
        .default(DEFAULT_BACKUP_IMAGE),
    /** Where backups go, by name: at most one directory, any number of S3 buckets. */
    targets: z.record(z.string(), z.unknown(), { error: (i) => `expected targets by name (a map), got ${describe(i.input)}` }),
});

export const appBackupSchema = z.strictObject({
    /** false: this app is not backed up. */
    enabled: z.boolean({ error: (i) => `expected true or false, got ${describe(i.input)}` }).default(true),
    schedule: schedule.optional(),
    retention: z
        .strictObject({
            keepLast: retentionShape.keepLast.optional(),
            daily: retentionShape.daily.optional(),
            weekly: retentionShape.weekly.optional(),
            monthly: retentionShape.monthly.optional(),
        })
        .optional(),
    format: format.optional(),
    jobs: jobs.optional(),
    compression: compression.optional(),
});

export interface BackupRetention {
    readonly keepLast: number;
    readonly daily: number;
    readonly weekly: number;
    readonly monthly: number;
}

/** One app's backups, stack defaults and its overrides merged. */
export interface AppBackupPlan {
    readonly app: string;
    readonly server: string;
    readonly database: string;
    readonly schedule: string;
    readonly retention: BackupRetention;
    readonly format: BackupFormat;
    readonly jobs: number;
    readonly compression?: number;
}

/** An S3-compatible bucket backups are uploaded to, its keys as they are in config (marked secret by the stack). */
export type S3TargetPlan = BackupRunnerS3Target & { readonly accessKeyId: string; readonly secretAccessKey: string };

/** The stack's backups: what the runner and the backup roles are declared from. */
export interface BackupPlan {
    readonly role: string;
    readonly image: string;
    readonly timeZone: string;
    /** The directory target, if there is one. */
    readonly target?: { readonly name: string; readonly directory: string };
    readonly s3: readonly S3TargetPlan[];
    readonly apps: readonly AppBackupPlan[];
}

/** The connections the runner's role takes on a server: pg_dump's (jobs + 1 in directory format) and the snapshot's own. */
export function backupConnectionLimit(apps: readonly AppBackupPlan[]): number {
    return Math.max(1, ...apps.map((a) => (a.format === "directory" ? a.jobs + 1 : 1))) + 1;
}

/** What resolveBackup reads of an app and a server. */
export interface BackupAppSource {
    readonly name: string;
    readonly placement: string;
    readonly server: string;
    readonly database: string;
    /** The app's raw `backup` overrides. */
    readonly backup?: unknown;
}

type Issue = { readonly path: string; readonly message: string };
const issuesOf = (error: z.ZodError, prefix: string): Issue[] =>
    error.issues.map((i) => ({
        path: [prefix, ...i.path.map(String)].join("."),
        message:
            i.code === "unrecognized_keys"
                ? `unknown key${i.keys.length > 1 ? "s" : ""} ${i.keys.join(", ")} (check the spelling against the README's config reference)`
                : i.message,
    }));

/**
 * The stack's backup plan, or undefined when it has no `backup` block. Every
 * problem goes to `issues` by its config path.
 */
export function resolveBackup(
    raw: unknown,
    apps: readonly (BackupAppSource & Parameters<typeof footprintOf>[0])[],
    servers: Readonly<Record<string, { readonly sslmode: string }>>,
    issues: Issue[],
): BackupPlan | undefined {
    // Pulumi.yaml's default is {}: no block, no backups (a declared key without a default is required by the CLI).
    const absent = raw === undefined || raw === null || (typeof raw === "object" && !Array.isArray(raw) && Object.keys(raw).length === 0);
    if (absent) {
        for (const app of apps.filter((a) => a.backup !== undefined)) {
            issues.push({ path: `apps.${app.name}.backup`, message: "the stack has no backup block: add backup (with its targets) first" });
        }
        return undefined;
    }
    const parsed = backupSchema.safeParse(raw);
    if (!parsed.success) {
        issues.push(...issuesOf(parsed.error, "backup"));
        return undefined;
    }
    const stack = parsed.data;
    const before = issues.length;
    const targetNames = Object.keys(stack.targets);
    if (targetNames.length === 0) {
        issues.push({
            path: "backup.targets",
            message: "expected at least one target such as { nas: { directory: { path: /mnt/nas/pg-backups } } } or an s3 bucket, got none",
        });
    }
    const directories: { name: string; directory: string }[] = [];
    const buckets: S3TargetPlan[] = [];
    for (const name of targetNames) {
        const at = `backup.targets.${name}`;
        const problem = identifierProblem(name);
        if (problem) issues.push({ path: at, message: problem });
        const raw = stack.targets[name];
        const keys = raw && typeof raw === "object" && !Array.isArray(raw) ? Object.keys(raw) : [];
        const unknown = keys.filter((k) => !(k in TARGET_KINDS));
        if (unknown.length > 0 || keys.length > 1) {
            issues.push({
                path: at,
                message:
                    unknown.length > 0
                        ? `unknown key ${unknown.join(", ")}: expected one of directory or s3`
                        : "expected one of directory or s3 per target (name another target for the other), got both",
            });
            continue;
        }
        const t = (keys.length === 1 ? TARGET_KINDS[keys[0] as keyof typeof TARGET_KINDS] : target).safeParse(raw);
        if (!t.success) issues.push(...issuesOf(t.error, at));
        else if ("directory" in t.data) directories.push({ name, directory: t.data.directory.path });
        else {
            const { prefix, ...rest } = t.data.s3;
            buckets.push({ name, ...rest, prefix: prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/` });
        }
    }
    if (directories.length > 1) {
        issues.push({
            path: "backup.targets",
            message: `expected at most one directory target (more S3 buckets are fine), got ${directories.length}: ${directories.map((d) => d.name).join(", ")}`,
        });
    }
    const plans: AppBackupPlan[] = [];
    for (const app of apps) {
        const at = `apps.${app.name}.backup`;
        const own = appBackupSchema.safeParse(app.backup ?? {});
        if (!own.success) {
            issues.push(...issuesOf(own.error, at));
            continue;
        }
        const o = own.data;
        if (!o.enabled) continue;
        if (app.placement !== "shared") {
            issues.push({ path: at, message: "backups of dedicated apps are not supported yet: set enabled: false for this app" });
            continue;
        }
        const sslmode = servers[app.server]?.sslmode;
        if (sslmode === "verify-ca" || sslmode === "verify-full") {
            issues.push({
                path: `servers.${app.server}.sslmode`,
                message: `the backup runner has no CA file to verify ${sslmode} with (not supported yet): set apps.${app.name}.backup.enabled: false, or use require`,
            });
            continue;
        }
        const fmt = o.format ?? stack.format;
        const plan: AppBackupPlan = {
            app: app.name,
            server: app.server,
            database: app.database,
            schedule: o.schedule ?? stack.schedule,
            retention: { ...stack.retention, ...Object.fromEntries(Object.entries(o.retention ?? {}).filter(([, v]) => v !== undefined)) },
            format: fmt,
            jobs: o.jobs ?? stack.jobs,
            ...((o.compression ?? stack.compression) !== undefined ? { compression: o.compression ?? stack.compression } : {}),
        };
        if (plan.jobs > 1 && fmt !== "directory") {
            issues.push({
                path: o.jobs !== undefined ? `${at}.jobs` : "backup.jobs",
                message: "parallel jobs need format: directory (pg_dump -j)",
            });
        }
        plans.push(plan);
        // Roles are cluster-wide: the backup role must not be one of the app's.
        for (const role of footprintOf(app).roles) {
            if (role.name === stack.role)
                issues.push({ path: "backup.role", message: `${stack.role} is also ${role.path}; choose another backup.role` });
        }
    }
    if (issues.length > before) return undefined;
    return {
        role: stack.role,
        image: stack.image,
        timeZone: stack.timeZone,
        ...(directories[0] ? { target: directories[0] } : {}),
        s3: buckets,
        apps: plans,
    };
}
