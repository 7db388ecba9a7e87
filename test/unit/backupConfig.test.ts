import { describe, expect, it } from "vitest";
import { backupConnectionLimit, cronProblem } from "../../program/backupConfig";
import { parseStackConfig } from "../../program/config";
import { budgetArgs } from "../../program/stack";
import { baseConfig, issuesOfConfig } from "../badInputs";

const withBackup = (backup: unknown, mutate: (c: any) => void = () => undefined) => {
    const c = baseConfig();
    c.backup = backup;
    mutate(c);
    return c;
};
const target = { nas: { directory: { path: "/mnt/nas/pg" } } };
const bucket = { endpoint: "http://127.0.0.1:8333", bucket: "pg-backups", accessKeyId: "key", secretAccessKey: "secret" };

const issuesOf = issuesOfConfig;

describe("cronProblem", () => {
    it.each(["0 3 * * *", "*/15 * * * *", "0 0-6/2 1,15 * 1-5", "30 2 * * 7", "  5 4 * 12 0  "])("takes %j", (expr) => {
        expect(cronProblem(expr)).toBeUndefined();
    });
    it.each([
        ["0 3 * *", "expected a cron schedule of 5 fields"],
        ["60 3 * * *", "expected the minute field as numbers from 0 to 59"],
        ["0 24 * * *", "expected the hour field"],
        ["0 3 0 * *", "expected the day of month field"],
        ["0 3 * jan *", "expected the month field"],
        ["0 3 * * 8", "expected the day of week field"],
        ["*/0 * * * *", "expected the minute field"],
        ["0 5-3 * * *", "expected the hour field"],
        ["@daily", "expected a cron schedule of 5 fields"],
    ])("throws when the schedule is %j", (expr, message) => {
        expect(cronProblem(expr)).toContain(message);
    });
});

describe("the backup block", () => {
    it("is optional: a stack without it has no backup plan", () => {
        expect(parseStackConfig(baseConfig()).backup).toBeUndefined();
    });

    it("fills in defaults and merges each app's overrides", () => {
        const config = parseStackConfig(
            withBackup({ targets: target, timeZone: "Europe/Paris" }, (c) => {
                c.apps.grafana.backup = {
                    schedule: "15 1 * * *",
                    retention: { keepLast: 2 },
                    format: "directory",
                    jobs: 3,
                    compression: 9,
                };
                c.apps.claude_bridge.backup = { enabled: false };
            }),
        );
        expect(config.backup).toEqual({
            role: "app_databases_backup",
            image: "app-databases/backup-runner:14-18",
            timeZone: "Europe/Paris",
            target: { name: "nas", directory: "/mnt/nas/pg" },
            s3: [],
            apps: [
                {
                    app: "grafana",
                    server: "lab",
                    database: "grafana",
                    schedule: "15 1 * * *",
                    retention: { keepLast: 2, daily: 7, weekly: 4, monthly: 6 },
                    format: "directory",
                    jobs: 3,
                    compression: 9,
                },
            ],
        });
    });

    it("takes S3 targets beside a directory, or alone, with their defaults and the prefix ending in /", () => {
        const both = parseStackConfig(withBackup({ targets: { ...target, offsite: { s3: { ...bucket, prefix: "prod" } } } }));
        expect(both.backup).toMatchObject({
            target: { name: "nas", directory: "/mnt/nas/pg" },
            s3: [{ name: "offsite", ...bucket, prefix: "prod/", region: "us-east-1", pathStyle: true }],
        });
        const alone = parseStackConfig(
            withBackup({ targets: { offsite: { s3: { ...bucket, pathStyle: false, region: "eu-central-1" } } } }),
        );
        expect(alone.backup?.target).toBeUndefined();
        expect(alone.backup?.s3).toEqual([{ name: "offsite", ...bucket, prefix: "", region: "eu-central-1", pathStyle: false }]);
    });

    it("puts the backup role in its server's budget, and none where no app is backed up", () => {
        const config = parseStackConfig(withBackup({ targets: target }, (c) => (c.apps.grafana.backup = { format: "directory", jobs: 2 })));
        expect(budgetArgs(config)[0].roles).toMatchObject({ app_databases_backup: 4 });
        const none = parseStackConfig(
            withBackup({ targets: target }, (c) => {
                c.apps.grafana.backup = { enabled: false };
                c.apps.claude_bridge.backup = { enabled: false };
            }),
        );
        expect(Object.keys(budgetArgs(none)[0].roles)).not.toContain("app_databases_backup");
    });

    it("counts pg_dump's connections and the snapshot's in the backup role's limit", () => {
        const app = {
            app: "a",
            server: "lab",
            database: "a",
            schedule: "0 3 * * *",
            retention: { keepLast: 1, daily: 0, weekly: 0, monthly: 0 },
        };
        expect(backupConnectionLimit([{ ...app, format: "custom", jobs: 1 }])).toBe(2);
        expect(
            backupConnectionLimit([
                { ...app, format: "custom", jobs: 1 },
                { ...app, format: "directory", jobs: 4 },
            ]),
        ).toBe(6);
    });

    it.each([
        ["no targets", { targets: {} }, "backup.targets", "expected at least one target"],
        [
            "two directory targets",
            { targets: { ...target, usb: { directory: { path: "/mnt/usb" } } } },
            "backup.targets",
            "expected at most one directory target (more S3 buckets are fine), got 2: nas, usb",
        ],
        [
            "an S3 endpoint that is not a URL",
            { targets: { offsite: { s3: { ...bucket, endpoint: "s3.example.com" } } } },
            "backup.targets.offsite.s3.endpoint",
            'expected the S3 endpoint as http(s)://host[:port], e.g. "https://s3.eu-central-1.amazonaws.com", got "s3.example.com"',
        ],
        [
            "a bad bucket name",
            { targets: { offsite: { s3: { ...bucket, bucket: "PG_Backups" } } } },
            "backup.targets.offsite.s3.bucket",
            'expected a bucket name (3-63 lowercase letters, digits, dots, hyphens), got "PG_Backups"',
        ],
        [
            "an S3 target without its secret key",
            { targets: { offsite: { s3: { ...bucket, secretAccessKey: undefined } } } },
            "backup.targets.offsite.s3.secretAccessKey",
            "expected the secret access key (set it with `pulumi config set --secret --path`)",
        ],
        [
            "a prefix with a leading slash",
            { targets: { offsite: { s3: { ...bucket, prefix: "/prod" } } } },
            "backup.targets.offsite.s3.prefix",
            'expected a key prefix such as "prod/" (no leading /, no tabs), got "/prod"',
        ],
        [
            "a target of two kinds",
            { targets: { both: { directory: { path: "/mnt/x" }, s3: bucket } } },
            "backup.targets.both",
            "expected one of directory or s3 per target",
        ],
        [
            "a relative path",
            { targets: { nas: { directory: { path: "backups" } } } },
            "backup.targets.nas.directory.path",
            'expected an absolute path on the Docker host (no ":" or tabs), e.g. "/mnt/nas/pg-backups", got "backups"',
        ],
        [
            "an unknown target kind",
            { targets: { nas: { ftp: "x" } } },
            "backup.targets.nas",
            "unknown key ftp: expected one of directory or s3",
        ],
        ["a bad schedule", { targets: target, schedule: "3am" }, "backup.schedule", "expected a cron schedule of 5 fields"],
        [
            "a bad time zone",
            { targets: target, timeZone: "Mars/Olympus" },
            "backup.timeZone",
            'expected an IANA time zone such as "Europe/Paris" or "UTC", got "Mars/Olympus"',
        ],
        ["keepLast 0", { targets: target, retention: { keepLast: 0 } }, "backup.retention.keepLast", "from 1 to 10000, got 0"],
        ["an unknown format", { targets: target, format: "plain" }, "backup.format", 'expected one of custom, directory, got "plain"'],
        ["jobs with custom format", { targets: target, jobs: 4 }, "backup.jobs", "parallel jobs need format: directory"],
        ["compression 10", { targets: target, compression: 10 }, "backup.compression", "from 0 (none) to 9, got 10"],
        ["a bad role name", { targets: target, role: "Backup" }, "backup.role", "expected a plain PostgreSQL identifier"],
        ["a role of an app", { targets: target, role: "grafana_app" }, "backup.role", "grafana_app is also"],
        ["a misspelt key", { targets: target, scheduel: "0 3 * * *" }, "backup", "unknown key scheduel"],
    ])("throws when the block has %s", (_case, backup, path, message) => {
        const issues = issuesOf(withBackup(backup));
        expect(issues).toContainEqual({ path, message: expect.stringContaining(message) });
    });

    it.each([
        [
            "a bad override",
            (c: any) => (c.apps.grafana.backup = { retention: { daily: -1 } }),
            "apps.grafana.backup.retention.daily",
            "got -1",
        ],
        ["a misspelt override", (c: any) => (c.apps.grafana.backup = { enable: false }), "apps.grafana.backup", "unknown key enable"],
        [
            "a dedicated app backed up",
            (c: any) => (c.apps.grafana.placement = "dedicated"),
            "apps.grafana.backup",
            "backups of dedicated apps are not supported yet: set enabled: false for this app",
        ],
        [
            "a verify-full server",
            (c: any) => Object.assign(c.servers.lab, { sslmode: "verify-full", sslrootcert: "system" }),
            "servers.lab.sslmode",
            "no CA file",
        ],
    ])("throws when an app has %s", (_case, mutate, path, message) => {
        expect(issuesOf(withBackup({ targets: target }, mutate))).toContainEqual({ path, message: expect.stringContaining(message) });
    });

    it("throws when an app has overrides and the stack no backup block", () => {
        const c = baseConfig();
        c.apps.grafana.backup = { schedule: "0 4 * * *" };
        expect(issuesOf(c)).toContainEqual({
            path: "apps.grafana.backup",
            message: "the stack has no backup block: add backup (with its targets) first",
        });
    });
});
