import { beforeEach, describe, expect, it } from "vitest";
import { declared, installMocks, MANAGED_ROLES, ofType, reset, settle, valueOf } from "./mocks";
import { BackupRunner, BackupRunnerArgs, checkBackupRunnerArgs, pgpassLine, runnerAppsFile } from "../../components/backupRunner";
import { chooseBackup, ListedBackup, parseBackupList, parseRestoreArgs, stampOf } from "../../scripts/restore";

installMocks();
beforeEach(reset);

const connection = {
    host: "10.0.0.5",
    port: 5432,
    username: "postgres",
    password: "pw",
    database: "postgres",
    sslmode: "disable" as const,
    connectTimeoutSeconds: 5,
    superuser: true,
};
const retention = { keepLast: 7, daily: 7, weekly: 4, monthly: 6 };
const args: BackupRunnerArgs = {
    stack: "prod",
    image: "app-databases/backup-runner:14-18",
    role: "app_databases_backup",
    timeZone: "Europe/Paris",
    target: { name: "nas", directory: "/mnt/nas/pg" },
    servers: { lab: { connection, host: "10.0.0.5", port: 5432, sslmode: "require", connectionLimit: 2 } },
    apps: [
        { app: "grafana", server: "lab", database: "grafana", schedule: "0 3 * * *", retention, format: "custom", jobs: 1 },
        {
            app: "wiki",
            server: "lab",
            database: "wiki_db",
            schedule: "30 2 * * 0",
            retention,
            format: "directory",
            jobs: 4,
            compression: 9,
        },
    ],
};

describe("the runner's files", () => {
    it("writes one line per app in the runner's column order", () => {
        expect(runnerAppsFile(args).split("\n").slice(1, 3)).toEqual([
            "grafana\tlab\t10.0.0.5\t5432\trequire\tgrafana\tapp_databases_backup\t0 3 * * *\t7\t7\t4\t6\tcustom\t1\t",
            "wiki\tlab\t10.0.0.5\t5432\trequire\twiki_db\tapp_databases_backup\t30 2 * * 0\t7\t7\t4\t6\tdirectory\t4\t9",
        ]);
    });

    it("escapes : and \\ in a password file line as libpq reads them", () => {
        expect(pgpassLine("db.lab", 5432, "app_databases_backup", "a:b\\c")).toBe("db.lab:5432:*:app_databases_backup:a\\:b\\\\c");
    });

    it.each([
        ["an app on an unknown server", { apps: [{ ...args.apps[0], server: "other" }] }, "`apps.0.server` must be one of lab"],
        ["a relative directory", { target: { name: "nas", directory: "pg" } }, "`target.directory` must be an absolute path"],
        [
            "an S3 endpoint with a path",
            {
                s3: [
                    {
                        name: "o",
                        endpoint: "http://h/x",
                        bucket: "pg",
                        prefix: "",
                        region: "r",
                        pathStyle: true,
                        accessKeyId: "a",
                        secretAccessKey: "s",
                    },
                ],
            },
            "`s3.0.endpoint` must be http(s)://host[:port]",
        ],
        ["a bad role name", { role: "Backup" }, "`role` expected a plain PostgreSQL identifier"],
        ["a tab in a schedule", { apps: [{ ...args.apps[0], schedule: "0\t3 * * *" }] }, "`apps.0` has a tab or newline"],
    ])("throws when given %s", (_case, change, message) => {
        expect(() => checkBackupRunnerArgs({ ...args, ...change })).toThrow(message);
    });
});

describe("BackupRunner", () => {
    it("declares the backup role per server and the runner container with its config and password file", async () => {
        const runner = new BackupRunner("app-databases-backup", args);
        await valueOf(runner.containerName);
        await settle();
        const roles = ofType(MANAGED_ROLES);
        expect(roles.map((r) => r.name)).toEqual(["app-databases-backup-lab-role"]);
        expect(roles[0].inputs.roles).toEqual({
            backup: { name: "app_databases_backup", connectionLimit: 2, rotation: 0, memberOf: ["pg_read_all_data"] },
        });
        const [container] = ofType("docker:index/container:Container");
        expect(container.inputs).toMatchObject({
            name: "app-databases-prod-backup",
            image: "app-databases/backup-runner:14-18",
            networkMode: "host",
            envs: ["TZ=Europe/Paris"],
            volumes: [{ hostPath: "/mnt/nas/pg", containerPath: "/backups/nas" }],
            restart: "unless-stopped",
        });
        const uploads = container.inputs.uploads as { file: string; content: string }[];
        expect(uploads.map((u) => u.file)).toEqual([
            "/etc/app-databases/apps.tsv",
            "/etc/app-databases/targets.tsv",
            "/etc/app-databases/pgpass",
        ]);
        expect(uploads[1].content.split("\n").slice(1)).toEqual(["nas\tdirectory\t/backups/nas\t/mnt/nas/pg", ""]);
        expect(container.secretInputs).toContain("uploads");
        expect(declared.map((d) => d.type)).toEqual(expect.arrayContaining(["app-databases:index:BackupRunner"]));
    });

    it("hands an S3 target's address to the runner in the clear and its keys as a secret, and mounts nothing without a directory", async () => {
        const { target: _omitted, ...rest } = args;
        const s3 = [
            { name: "offsite", endpoint: "http://127.0.0.1:8333/", bucket: "pg", prefix: "prod/", region: "us-east-1", pathStyle: true },
        ];
        const runner = new BackupRunner("app-databases-backup", {
            ...rest,
            s3: [{ ...s3[0], accessKeyId: "AKID", secretAccessKey: "s3cret" }],
        });
        await valueOf(runner.containerName);
        await settle();
        const [container] = ofType("docker:index/container:Container");
        expect(container.inputs.volumes).toEqual([]);
        const uploads = container.inputs.uploads as { file: string; content: string }[];
        expect(uploads.map((u) => u.file)).toEqual([
            "/etc/app-databases/apps.tsv",
            "/etc/app-databases/targets.tsv",
            "/etc/app-databases/pgpass",
            "/etc/app-databases/s3.tsv",
        ]);
        expect(uploads[1].content.split("\n").slice(1)).toEqual(["offsite\ts3\thttp://127.0.0.1:8333\tpg\tprod/\tus-east-1\ttrue", ""]);
        expect(uploads[1].content).not.toContain("s3cret");
        expect(uploads[3].content).toBe("offsite\tAKID\ts3cret\n");
        expect(container.secretInputs).toContain("uploads");
    });
});

describe("the restore command", () => {
    it("reads its arguments", () => {
        expect(parseRestoreArgs(["alpha", "--in-place", "--yes", "--terminate"])).toMatchObject({
            app: "alpha",
            backup: "latest",
            inPlace: true,
            yes: true,
            terminate: true,
            force: false,
        });
        expect(parseRestoreArgs(["alpha", "--to", "alpha_look", "--before", "2026-12-07T03:00:00Z"])).toMatchObject({
            to: "alpha_look",
            inPlace: false,
            before: new Date("2026-12-07T03:00:00Z"),
        });
    });

    it.each([
        [["alpha"], "expected one of --to <name> or --in-place"],
        [["alpha", "--to", "x", "--in-place"], "expected one of --to <name> or --in-place"],
        [["--in-place"], "which app?"],
        [["alpha", "--to", "Alpha-Copy"], "--to: expected a plain PostgreSQL identifier"],
        [["alpha", "--in-place", "--before", "yesterday"], '--before: expected a time such as 2026-12-07T03:00:00Z, got "yesterday"'],
        [["alpha", "--in-place", "--backup", "x", "--before", "2026-12-07"], "expected --backup <id> or --before <time>, not both"],
        [["alpha", "--in-place", "--wat"], 'unknown argument "--wat"'],
    ])("throws when given %j", (argv, message) => {
        expect(() => parseRestoreArgs(argv)).toThrow(message);
    });

    const listed: ListedBackup[] = parseBackupList(
        [
            "alpha\t20261205T030000Z\tpassed\t2026-12-05T03:00:05Z\t100\t15\talpha\t/backups/nas/alpha/20261205T030000Z/alpha.dump\tnas",
            "alpha\t20261206T030000Z\tpassed\t2026-12-06T03:00:05Z\t100\t15\talpha\t/backups/nas/alpha/20261206T030000Z/alpha.dump\tnas",
            "alpha\t20261207T030000Z\tfailed\t2026-12-07T03:00:05Z\t100\t15\talpha\t/backups/nas/alpha/20261207T030000Z/alpha.dump\tnas",
            "beta\t20261207T030000Z\tpassed\t2026-12-07T03:00:05Z\t100\t15\tbeta\t/backups/nas/beta/20261207T030000Z/beta.dump\tnas",
            "alpha\t20261206T030000Z\tpassed\t2026-12-06T03:00:05Z\t100\t15\talpha\ts3://pg/alpha/20261206T030000Z/alpha.dump\toffsite",
            "alpha\t20261208T030000Z\tpassed\t2026-12-08T03:00:05Z\t100\t15\talpha\ts3://pg/alpha/20261208T030000Z/alpha.dump\toffsite",
            "",
        ].join("\n"),
    );

    it("takes a backup from the directory target when it is there, else from the S3 target holding it, or the target asked for", () => {
        expect(chooseBackup(listed, { app: "alpha", backup: "20261206T030000Z", force: false }).target).toBe("nas");
        expect(chooseBackup(listed, { app: "alpha", backup: "latest", force: false })).toMatchObject({
            id: "20261208T030000Z",
            target: "offsite",
            file: "s3://pg/alpha/20261208T030000Z/alpha.dump",
        });
        expect(chooseBackup(listed, { app: "alpha", backup: "20261206T030000Z", force: false, target: "offsite" }).target).toBe("offsite");
        expect(() => chooseBackup(listed, { app: "alpha", backup: "latest", force: false, target: "usb" })).toThrow(
            "no backups on target usb; the runner's targets with backups: nas, offsite",
        );
    });

    it("chooses the latest verified backup, or the last verified one before a time", () => {
        expect(chooseBackup(listed, { app: "alpha", backup: "latest", force: false, target: "nas" }).id).toBe("20261206T030000Z");
        expect(chooseBackup(listed, { app: "alpha", backup: "latest", before: new Date("2026-12-06T00:00:00Z"), force: false }).id).toBe(
            "20261205T030000Z",
        );
        expect(chooseBackup(listed, { app: "alpha", backup: "20261207T030000Z", force: true }).id).toBe("20261207T030000Z");
    });

    it.each([
        [
            { app: "alpha", backup: "20261207T030000Z", force: false },
            "backup alpha/20261207T030000Z: its restore drill failed; choose another, or pass --force",
        ],
        [
            { app: "alpha", backup: "20261201T000000Z", force: false },
            "no backup alpha/20261201T000000Z; there are: 20261205T030000Z (passed)",
        ],
        [{ app: "gamma", backup: "latest", force: false }, "no backups of gamma in the runner"],
        [
            { app: "alpha", backup: "latest", before: new Date("2026-12-01T00:00:00Z"), force: false },
            "no backup of alpha before 2026-12-01T00:00:00.000Z passed its restore drill",
        ],
    ])("throws when asked for %j", (options, message) => {
        expect(() => chooseBackup(listed, options)).toThrow(message);
    });

    it("dates the replaced database to the minute, in UTC", () => {
        expect(stampOf(new Date("2026-12-07T13:05:59Z"))).toBe("202612071305");
    });
});
