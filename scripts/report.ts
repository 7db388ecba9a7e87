/**
 * The access report of a stack's shared servers, read live:
 *
 *   npm run report -- --stack prod            # a table per server
 *   npm run --silent report -- --stack prod --json   # the same as JSON, for scripts
 *   npm run report -- --stack prod --server lab
 *   npm run report -- --stack prod --html report.html   # one page to look at (reportHtml.ts)
 *
 * It reads the stack's config with `pulumi config --show-secrets --json`
 * (so the shell needs the stack's backend and secrets provider, e.g.
 * `source scripts/dev-env.sh`), connects to each shared server as its admin
 * and reads the catalogs; it changes nothing. Dedicated containers are left
 * out (their admin password lives in the stack's state): their report is the
 * stack output `access.dedicated-<app>`.
 *
 * With a `backup` block it also reads the backup runner's status
 * (`docker exec app-databases-<stack>-backup app-databases-backup status`)
 * and shows, per app, the last backup, its size and age, the last verified
 * restore, and a warning when the newest verified backup is older than the
 * app's schedule allows (program/backupHealth.ts). In --json each server's
 * entry gets `backups`, its apps' figures.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { formatAccessReport, readAccessReport } from "../components/accessReport";
import { withAdminClient } from "../components/adminConnection";
import { computeBudget } from "../components/connectionBudget";
import { ownedDatabases } from "../program/access";
import { parseStackConfig, StackConfig } from "../program/config";
import { budgetsWithLiveRoles } from "../program/liveBudget";
import { readLiveRoles } from "../program/liveRoles";
import { adminConnectionOf } from "../program/preflight";
import { backupRunnerNames } from "../components/backupRunner";
import { AppBackupHealth, appBackupHealth, formatBackupHealth, RunnerAppStatus } from "../program/backupHealth";
import { renderHtmlReport, ServerReport } from "./reportHtml";

const PROJECT = "app-databases";

export interface ReportOptions {
    readonly stack?: string;
    readonly json: boolean;
    readonly server?: string;
    /** Write the HTML page to this file instead of printing. */
    readonly html?: string;
    /** The Pulumi project directory. @default the repository root */
    readonly cwd: string;
}

/** Parses the command line; throws with the usage on anything else. */
export function parseArgs(argv: readonly string[]): ReportOptions {
    const usage = "usage: npm run report -- [--stack NAME] [--server NAME] [--json | --html FILE] [--cwd DIR]";
    let options: ReportOptions = { json: false, cwd: path.resolve(__dirname, "..") };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const value = () => {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) throw new Error(`${arg} needs a value\n${usage}`);
            return v;
        };
        if (arg === "--json") options = { ...options, json: true };
        else if (arg === "--stack" || arg === "-s") options = { ...options, stack: value() };
        else if (arg === "--server") options = { ...options, server: value() };
        else if (arg === "--html") options = { ...options, html: path.resolve(value()) };
        else if (arg === "--cwd") options = { ...options, cwd: path.resolve(value()) };
        else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${usage}`);
    }
    if (options.json && options.html) throw new Error(`--json and --html: choose one\n${usage}`);
    return options;
}

/** Stack config as the program reads it, from `pulumi config --json` (values are JSON text or plain strings). */
export function rawConfigFromCli(json: Readonly<Record<string, { value?: string; objectValue?: unknown }>>): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(json)) {
        if (!key.startsWith(`${PROJECT}:`)) continue;
        const name = key.slice(PROJECT.length + 1);
        if (entry.objectValue !== undefined) raw[name] = entry.objectValue;
        else if (entry.value !== undefined) {
            try {
                raw[name] = JSON.parse(entry.value);
            } catch {
                raw[name] = entry.value;
            }
        }
    }
    return raw;
}

function stackConfig(options: ReportOptions): StackConfig {
    const args = ["config", "--show-secrets", "--json", ...(options.stack ? ["--stack", options.stack] : [])];
    const result = spawnSync("pulumi", args, { cwd: options.cwd, encoding: "utf8" });
    if (result.error) throw new Error(`cannot run pulumi: ${result.error.message} (source scripts/pulumi-env.sh first)`);
    if (result.status !== 0) throw new Error(`pulumi ${args.join(" ")} failed: ${result.stderr.trim()}`);
    return parseStackConfig(rawConfigFromCli(JSON.parse(result.stdout) as Record<string, { value?: string }>));
}

/**
 * Reads every (or the named) shared server's report, each with its connection
 * budget as the preview counts it (the config's roles against the live ones).
 * `stack` (`<project>/<stack>`) tells another stack's marked roles apart.
 */
export async function accessReports(config: StackConfig, only?: string, stack?: string): Promise<ServerReport[]> {
    const names = Object.keys(config.servers).filter((n) => only === undefined || n === only);
    if (only !== undefined && names.length === 0) {
        throw new Error(`no shared server ${only} in this stack (it has: ${Object.keys(config.servers).join(", ") || "none"})`);
    }
    const reports: ServerReport[] = [];
    for (const name of names) {
        const connection = adminConnectionOf(config.servers[name]);
        const access = await readAccessReport(name, connection, ownedDatabases(config, name));
        const liveRoles = await withAdminClient(connection, readLiveRoles);
        const args = budgetsWithLiveRoles(config, { [name]: liveRoles }, undefined, stack).args.find((a) => a.server === name);
        reports.push({ ...access, ...(args ? { budget: computeBudget(args) } : {}) });
    }
    return reports;
}

/** The stack's name: the one given, else the selected stack. */
function stackName(options: ReportOptions): string {
    if (options.stack) return options.stack;
    const result = spawnSync("pulumi", ["stack", "--show-name"], { cwd: options.cwd, encoding: "utf8" });
    return result.status === 0 ? result.stdout.trim() : "(selected stack)";
}

export const NPM_BANNER_NOTE = "npm printed its banner on stdout before the JSON; run `npm run --silent report -- --json` for JSON alone";

/** Whether npm ran this script without --silent, and so printed its banner on stdout first. */
export function npmBannerShown(env: NodeJS.ProcessEnv): boolean {
    return env.npm_lifecycle_event === "report" && env.npm_config_loglevel !== "silent";
}

/** Each backed-up app's health, from the runner's status; a runner that does not answer is said as a warning per app. */
export function backupHealthOf(
    config: StackConfig,
    stack: string,
    now = new Date(),
): { runner: string; apps: AppBackupHealth[] } | undefined {
    const plan = config.backup;
    if (!plan) return undefined;
    const runner = backupRunnerNames(stack).container;
    const r = spawnSync("docker", ["exec", runner, "app-databases-backup", "status"], { encoding: "utf8" });
    let status: Record<string, RunnerAppStatus> | undefined;
    try {
        status = r.status === 0 ? (JSON.parse(r.stdout) as { apps: Record<string, RunnerAppStatus> }).apps : undefined;
    } catch {
        status = undefined;
    }
    const apps = plan.apps.map((a) => {
        const health = appBackupHealth(a.app, a.schedule, plan.timeZone, status?.[a.app], now);
        if (status) return health;
        const why = (r.stderr || r.error?.message || "").trim();
        return { ...health, warning: `the backup runner ${runner} did not answer${why ? `: ${why}` : ""}` };
    });
    return { runner, apps };
}

async function main(): Promise<void> {
    const options = parseArgs(process.argv.slice(2));
    process.chdir(options.cwd); // admin.passwordFile is relative to the project, as for pulumi
    if (options.json && npmBannerShown(process.env)) process.stderr.write(`report: ${NPM_BANNER_NOTE}\n`);
    const stack = stackName(options);
    const config = stackConfig(options);
    const accessOnly = await accessReports(config, options.server, `${PROJECT}/${stack}`);
    const backups = backupHealthOf(config, stack);
    const serverOf = new Map(config.backup?.apps.map((a) => [a.app, a.server]) ?? []);
    const reports = backups
        ? accessOnly.map((r) => ({ ...r, backups: backups.apps.filter((a) => serverOf.get(a.app) === r.server) }))
        : accessOnly;
    if (options.html) {
        fs.writeFileSync(options.html, renderHtmlReport({ stack, readAt: new Date().toISOString(), servers: reports }));
        process.stderr.write(`report: wrote ${options.html}\n`);
        return;
    }
    const text = [...accessOnly.map(formatAccessReport), ...(backups ? [formatBackupHealth(backups.apps, backups.runner)] : [])];
    process.stdout.write(options.json ? JSON.stringify(reports, null, 2) + "\n" : text.join("\n\n") + "\n");
}

if (require.main === module) {
    main().catch((err: unknown) => {
        process.stderr.write(`report: ${(err as Error).message}\n`);
        process.exit(1);
    });
}
