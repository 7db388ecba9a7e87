/**
 * BackupRunner: the container that backs up a stack's apps on their
 * schedule, proves each backup by restoring it, and keeps the generations
 * retention asks for (scripts/backup-image/app-databases-backup), with the
 * least-privilege login role it connects as on each server.
 *
 * The program runs from a workstation and ends; the schedule needs something
 * that keeps running, so the stack declares this container on the Docker
 * engine. Its role is NOSUPERUSER and a member of pg_read_all_data (it reads,
 * never writes), with a CONNECTION LIMIT the stack's connection budget
 * counts; each app's database grants it CONNECT (AppDatabase `connectGrantees`).
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { AdminConnection } from "./adminConnection";
import { checkInt, checkText, describeValue, RANGES } from "./defaults";
import { identifierProblem } from "./identifiers";
import { ManagedRoles } from "./managedRoles";

export const BACKUP_RUNNER_TYPE = "app-databases:index:BackupRunner";
/** The predefined role that reads every table, view and sequence (PostgreSQL 14+). */
export const BACKUP_ROLE_MEMBERSHIP = "pg_read_all_data";
/** Where the runner reads its config (scripts/backup-image/app-databases-backup). */
const CONF_DIR = "/etc/app-databases";

export interface BackupRunnerServer {
    /** The admin connection the backup role is made with (secret). */
    readonly connection: pulumi.Input<AdminConnection>;
    /** Where the runner reaches the server (it runs on the host's network). */
    readonly host: string;
    readonly port: number;
    readonly sslmode: string;
    /** CONNECTION LIMIT of the backup role there. */
    readonly connectionLimit: number;
}

export interface BackupRunnerApp {
    readonly app: string;
    /** Key of its server in `servers`. */
    readonly server: string;
    readonly database: string;
    /** Five-field cron expression, in `timeZone`. */
    readonly schedule: string;
    readonly retention: { readonly keepLast: number; readonly daily: number; readonly weekly: number; readonly monthly: number };
    /** pg_dump's custom format (one file) or directory format (parallel `jobs`). */
    readonly format: "custom" | "directory";
    readonly jobs: number;
    /** pg_dump -Z; pg_dump's default when omitted. */
    readonly compression?: number;
}

export interface BackupRunnerS3Target {
    /** The target's name (an identifier, as in messages and `list`). */
    readonly name: string;
    /** http(s)://host[:port] of the S3 API, as the runner (on the host's network) reaches it. */
    readonly endpoint: string;
    readonly bucket: string;
    /** Prepended to every key: "" or ending in "/". */
    readonly prefix: string;
    readonly region: string;
    /** Bucket in the path rather than the host name. */
    readonly pathStyle: boolean;
    /** Secret. */
    readonly accessKeyId: pulumi.Input<string>;
    /** Secret. */
    readonly secretAccessKey: pulumi.Input<string>;
}

export interface BackupRunnerArgs {
    /** The stack; names the container. */
    readonly stack: string;
    /** The runner image (scripts/backup-image.sh). */
    readonly image: string;
    /** The backup role's name on every server. */
    readonly role: string;
    /** IANA time zone of the schedules and of retention's days. */
    readonly timeZone: string;
    /**
     * The directory on the Docker host backups go to, by name.
     * @default none: dumps are staged in the container and kept only in the S3 targets
     */
    readonly target?: { readonly name: string; readonly directory: string };
    /** S3-compatible buckets each backup is uploaded to once drilled. @default none */
    readonly s3?: readonly BackupRunnerS3Target[];
    readonly servers: Readonly<Record<string, BackupRunnerServer>>;
    readonly apps: readonly BackupRunnerApp[];
    /** Refuse deleting the backup roles (production). @default false */
    readonly protect?: boolean;
}

const COMPONENT = "BackupRunner";

/** Names on the Docker engine and inside the container. */
export function backupRunnerNames(stack: string, target = "") {
    return { container: `app-databases-${stack}-backup`, targetPath: `/backups/${target}` };
}

/** Throws naming the argument when one is unusable (tabs would break the runner's config lines). */
export function checkBackupRunnerArgs(args: BackupRunnerArgs): void {
    checkText(COMPONENT, "stack", args.stack, "the stack's name");
    checkText(COMPONENT, "image", args.image, "a Docker image reference");
    const names: [string, string][] = [["role", args.role]];
    if (args.target) names.push(["target.name", args.target.name]);
    for (const [i, t] of (args.s3 ?? []).entries()) names.push([`s3.${i}.name`, t.name]);
    for (const [field, name] of names) {
        const problem = identifierProblem(name);
        if (problem) throw new Error(`${COMPONENT}: \`${field}\` ${problem}`);
    }
    if (!args.target && (args.s3 ?? []).length === 0)
        throw new Error(`${COMPONENT}: expected a \`target\` directory or an \`s3\` target, got neither`);
    if (args.target && !args.target.directory.startsWith("/")) {
        throw new Error(`${COMPONENT}: \`target.directory\` must be an absolute path, got ${describeValue(args.target.directory)}`);
    }
    for (const [i, t] of (args.s3 ?? []).entries()) {
        if (!/^https?:\/\/[^/\s]+\/?$/.test(t.endpoint))
            throw new Error(`${COMPONENT}: \`s3.${i}.endpoint\` must be http(s)://host[:port], got ${describeValue(t.endpoint)}`);
        for (const [field, value] of [
            ["bucket", t.bucket],
            ["prefix", t.prefix],
            ["region", t.region],
        ] as const) {
            if (/[\t\n\s]/.test(value)) throw new Error(`${COMPONENT}: \`s3.${i}.${field}\` has whitespace in ${describeValue(value)}`);
        }
        if (t.prefix !== "" && !t.prefix.endsWith("/"))
            throw new Error(`${COMPONENT}: \`s3.${i}.prefix\` must be "" or end in "/", got ${describeValue(t.prefix)}`);
    }
    for (const [i, app] of args.apps.entries()) {
        if (!(app.server in args.servers)) {
            throw new Error(
                `${COMPONENT}: \`apps.${i}.server\` must be one of ${Object.keys(args.servers).join(", ")}, got ${describeValue(app.server)}`,
            );
        }
        for (const value of [app.app, app.database, app.schedule]) {
            if (/[\t\n]/.test(value)) throw new Error(`${COMPONENT}: \`apps.${i}\` has a tab or newline in ${describeValue(value)}`);
        }
    }
    for (const [key, server] of Object.entries(args.servers)) {
        checkInt(COMPONENT, `servers.${key}.connectionLimit`, server.connectionLimit, RANGES.connectionLimit);
    }
}

/** The runner's apps.tsv: one line per app (the columns the runner reads, in its order). */
export function runnerAppsFile(args: Pick<BackupRunnerArgs, "apps" | "servers" | "role">): string {
    const header = "# app server host port sslmode database user schedule keepLast daily weekly monthly format jobs compression";
    const lines = args.apps.map((a) => {
        const s = args.servers[a.server];
        const r = a.retention;
        return [a.app, a.server, s.host, s.port, s.sslmode, a.database, args.role, a.schedule, r.keepLast, r.daily, r.weekly, r.monthly]
            .concat([a.format, a.jobs, a.compression ?? ""])
            .join("\t");
    });
    return [header, ...lines].join("\n") + "\n";
}

/** The runner's targets.tsv: the directory target and the S3 ones (no secrets: those go to s3.tsv). */
export function runnerTargetsFile(args: Pick<BackupRunnerArgs, "stack" | "target" | "s3">): string {
    const lines = ["# name directory containerPath hostPath | name s3 endpoint bucket prefix region pathStyle"];
    if (args.target)
        lines.push(
            [args.target.name, "directory", backupRunnerNames(args.stack, args.target.name).targetPath, args.target.directory].join("\t"),
        );
    for (const t of args.s3 ?? []) {
        lines.push([t.name, "s3", t.endpoint.replace(/\/$/, ""), t.bucket, t.prefix, t.region, String(t.pathStyle)].join("\t"));
    }
    return lines.join("\n") + "\n";
}

/** A libpq password file line; `:` and `\` escaped as libpq reads them. */
export function pgpassLine(host: string, port: number, user: string, password: string): string {
    const esc = (v: string) => v.replace(/[\\:]/g, (c) => `\\${c}`);
    return `${esc(host)}:${port}:*:${esc(user)}:${esc(password)}`;
}

export class BackupRunner extends pulumi.ComponentResource {
    public readonly container: docker.Container;
    /** The backup role on each server, by server key (from the resource that makes it). */
    public readonly roleNames: Readonly<Record<string, pulumi.Output<string>>>;
    public readonly containerName: pulumi.Output<string>;

    constructor(name: string, args: BackupRunnerArgs, opts: pulumi.ComponentResourceOptions = {}) {
        checkBackupRunnerArgs(args); // bad input fails before anything is registered
        super(BACKUP_RUNNER_TYPE, name, {}, opts);
        const names = backupRunnerNames(args.stack, args.target?.name);

        const roleNames: Record<string, pulumi.Output<string>> = {};
        const pgpass: pulumi.Output<string>[] = [];
        for (const [key, server] of Object.entries(args.servers)) {
            const roles = new ManagedRoles(
                `${name}-${key}-role`,
                {
                    connection: server.connection,
                    roles: {
                        backup: {
                            name: args.role,
                            connectionLimit: server.connectionLimit,
                            rotation: 0,
                            memberOf: [BACKUP_ROLE_MEMBERSHIP],
                        },
                    },
                },
                { parent: this, protect: args.protect ?? false },
            );
            roleNames[key] = roles.nameOf("backup");
            pgpass.push(
                pulumi
                    .all([roles.nameOf("backup"), roles.passwordOf("backup")])
                    .apply(([user, pw]) => pgpassLine(server.host, server.port, user, pw)),
            );
        }
        this.roleNames = roleNames;

        const labels = [
            { label: "app-databases.stack", value: args.stack },
            { label: "app-databases.role", value: "backup-runner" },
        ];
        this.container = new docker.Container(
            `${name}-container`,
            {
                name: names.container,
                image: args.image,
                // The servers are reached as the workstation reaches them (their config host).
                networkMode: "host",
                envs: [`TZ=${args.timeZone}`],
                volumes: args.target ? [{ hostPath: args.target.directory, containerPath: names.targetPath }] : [],
                uploads: [
                    { file: `${CONF_DIR}/apps.tsv`, content: runnerAppsFile(args) },
                    { file: `${CONF_DIR}/targets.tsv`, content: runnerTargetsFile(args) },
                    { file: `${CONF_DIR}/pgpass`, content: pulumi.secret(pulumi.all(pgpass).apply((lines) => lines.join("\n") + "\n")) },
                    ...((args.s3 ?? []).length > 0
                        ? [
                              {
                                  file: `${CONF_DIR}/s3.tsv`,
                                  content: pulumi.secret(
                                      pulumi
                                          .all((args.s3 ?? []).map((t) => pulumi.all([t.name, t.accessKeyId, t.secretAccessKey])))
                                          .apply((rows) => rows.map((r) => r.join("\t")).join("\n") + "\n"),
                                  ),
                              },
                          ]
                        : []),
                ],
                restart: "unless-stopped",
                logDriver: "json-file",
                logOpts: { "max-size": "10m", "max-file": "3" },
                labels,
                // A backup in flight is left as .partial-<id> (never published) when stopped.
                destroyGraceSeconds: 30,
            },
            { parent: this, deleteBeforeReplace: true },
        );
        this.containerName = this.container.name;
        this.registerOutputs({ containerName: this.containerName, roleNames });
    }
}
