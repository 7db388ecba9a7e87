/**
 * The correctness checks of a benchmark run: each one named, recorded pass or
 * fail with what was found, and every check a tool's run must make listed up
 * front, so that a run that stops part-way records the ones it never made as
 * failed ("missing") instead of passing on fewer checks.
 */
import { Client } from "pg";
import { Catalog, compareCatalogs, expectedCatalog, AppSpec } from "./catalog";
import type { Check, Measurement } from "./measurements";
import { PgTarget } from "./util";

/** A login role and the password the tool set for it. */
export interface Login {
    readonly app: string;
    readonly role: string;
    readonly password: string;
    readonly database: string;
}

/** Pulumi phases, each measured and each with a connection check. */
export const PULUMI_PHASES: readonly Measurement["phase"][] = ["create", "preview", "noop", "refresh", "change", "destroy"];
export const ANSIBLE_PHASES: readonly Measurement["phase"][] = ["create", "noop", "change", "destroy"];
export const SQL_PHASES: readonly Measurement["phase"][] = ["create", "destroy"];

export const CHECK = {
    completed: "run completed",
    catalog: (stage: "create" | "change") => `catalog after ${stage}`,
    empty: "catalog empty after destroy/removal",
    logins: (stage: "create" | "change") => `every password logs in after ${stage}`,
    noChanges: (phase: "preview" | "noop" | "refresh" | "paired-preview") => `${phase}: 0 changes`,
    changeApplied: "change: applied in place",
    connections: (phase: string) => `${phase}: connections within the reserved pool`,
} as const;

/** The checks of one paired preview (its "run" is the pair's number). */
export const PAIRED_PREVIEW_CHECKS = [CHECK.noChanges("paired-preview"), CHECK.connections("paired-preview")];

/** Every check one run of a tool makes (tool `pulumi*`, `ansible` or `sql`). */
export function expectedChecks(tool: string): string[] {
    const common = [CHECK.completed, CHECK.catalog("create"), CHECK.logins("create"), CHECK.empty];
    if (tool.startsWith("pulumi")) {
        return [
            ...common,
            CHECK.noChanges("preview"),
            CHECK.noChanges("noop"),
            CHECK.noChanges("refresh"),
            CHECK.catalog("change"),
            CHECK.changeApplied,
            CHECK.logins("change"),
            ...PULUMI_PHASES.map(CHECK.connections),
        ];
    }
    if (tool === "ansible")
        return [...common, CHECK.noChanges("noop"), CHECK.catalog("change"), CHECK.changeApplied, CHECK.logins("change")];
    return common;
}

/** The checks of one tool's run: recorded as they are made, the missing ones added as failures by finish(). */
export class RunChecks {
    private readonly made = new Set<string>();

    constructor(
        private readonly into: Check[],
        readonly tool: string,
        readonly n: number,
        readonly run: number,
        private readonly onRecord: (c: Check) => void = () => undefined,
    ) {}

    record(name: string, pass: boolean, details: readonly string[] = []): boolean {
        const c: Check = { tool: this.tool, n: this.n, run: this.run, name, pass, details: [...details] };
        this.made.add(name);
        this.into.push(c);
        this.onRecord(c);
        return pass;
    }

    /** Records whether the run completed, then every expected check it did not make, as failed. */
    finish(error?: unknown): void {
        this.record(CHECK.completed, error === undefined, error === undefined ? [] : [errorText(error)]);
        for (const name of expectedChecks(this.tool)) {
            if (!this.made.has(name)) this.record(name, false, ["missing: the run stopped before this check"]);
        }
    }
}

export const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).split("\n").slice(0, 6).join(" / ");

/** The catalog against the expected one for these apps; an empty app list expects nothing left. */
export function catalogDiffs(apps: readonly AppSpec[], actual: Catalog): string[] {
    return compareCatalogs(expectedCatalog(apps), actual);
}

/** Changes other than `same` in a Pulumi change summary (`pulumi preview --json` or stack history). */
export function changesOf(summary: Record<string, number>): string[] {
    return Object.entries(summary)
        .filter(([op, count]) => op !== "same" && count > 0)
        .map(([op, count]) => `${op} ${count}`);
}

const REPLACING = ["create", "delete", "replace", "create-replacement", "delete-replaced", "import", "import-replacement"];

/** The limit change made in place: at least one update, nothing created, deleted or replaced. */
export function changeInPlaceProblems(summary: Record<string, number>): string[] {
    const problems = Object.entries(summary)
        .filter(([op, count]) => REPLACING.includes(op) && count > 0)
        .map(([op, count]) => `${op} ${count}`);
    if (!((summary.update ?? 0) > 0)) problems.push(`no update (${JSON.stringify(summary)})`);
    return problems;
}

/**
 * Logs in as each role to its database with its password; returns one line per
 * failure (never the password). `expectedRoles`: every login role the apps must have.
 */
export async function loginProblems(pg: PgTarget, logins: readonly Login[], expectedRoles: readonly string[]): Promise<string[]> {
    const problems: string[] = [];
    const seen = new Set(logins.map((l) => l.role));
    for (const role of expectedRoles) if (!seen.has(role)) problems.push(`${role}: no password from the tool`);
    for (const l of logins) {
        const client = new Client({
            host: pg.host,
            port: pg.port,
            user: l.role,
            password: l.password,
            database: l.database,
            application_name: "bench-login",
            connectionTimeoutMillis: 10000,
        });
        try {
            await client.connect();
            const r = await client.query<{ u: string; d: string }>("SELECT current_user AS u, current_database() AS d");
            if (r.rows[0].u !== l.role || r.rows[0].d !== l.database) {
                problems.push(`${l.role}: logged in as ${r.rows[0].u} to ${r.rows[0].d}`);
            }
        } catch (err) {
            const msg = errorText(err);
            problems.push(`${l.role} to ${l.database}: ${l.password ? msg.split(l.password).join("***") : msg}`);
        } finally {
            await client.end().catch(() => undefined);
        }
    }
    return problems;
}

/** Which login roles the apps have: `<app>_app` and `<app>_migrate`. */
export const loginRoles = (apps: readonly AppSpec[]) => apps.flatMap((a) => [`${a.name}_app`, `${a.name}_migrate`]);

/**
 * The checks plus, for every run that has a measurement, each expected check it lacks, as failed:
 * a results JSON saved without some checks (an older format, or a run cut short) cannot pass.
 */
export function withMissing(measurements: readonly Measurement[], checks: readonly Check[]): Check[] {
    const out = [...checks];
    // A paired preview's number is not a run's: its checks are its own.
    const paired = (m: Measurement) => m.phase === "paired-preview";
    const runs = new Map(measurements.map((m) => [`${m.tool}|${m.n}|${m.run}|${paired(m)}`, m]));
    for (const m of runs.values()) {
        for (const name of paired(m) ? PAIRED_PREVIEW_CHECKS : expectedChecks(m.tool)) {
            if (!checks.some((c) => c.tool === m.tool && c.n === m.n && c.run === m.run && c.name === name)) {
                out.push({ tool: m.tool, n: m.n, run: m.run, name, pass: false, details: ["missing: not in the saved results"] });
            }
        }
    }
    return out;
}

/** The run passes only with at least one check made and every check passed. */
export const allPass = (checks: readonly Check[]) => checks.length > 0 && checks.every((c) => c.pass);
