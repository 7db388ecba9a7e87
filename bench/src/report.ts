/** Tables (stdout and bench/results/*.md), JSON (timestamped and latest.json) and the PNG chart. */
import * as fs from "node:fs";
import * as path from "node:path";
import { allPass, expectedChecks, withMissing } from "./checks";
import { goals } from "./goals";
import type { Check, Measurement, StateFacts } from "./measurements";
import { BASELINE_VARIANT, describeSource, toolName } from "./pulumiTool";
import { BENCH_DIR, log, median, run } from "./util";

export interface ReportInput {
    meta: Record<string, unknown> & { totalMinutes: number; started: string };
    measurements: Measurement[];
    checks: Check[];
    facts: StateFacts[];
    workDir: string;
}

const PHASES: Measurement["phase"][] = ["create", "preview", "noop", "refresh", "change", "destroy"];
const PHASE_LABEL: Record<string, string> = {
    create: "first up / create",
    preview: "no-op preview",
    noop: "no-op up / re-run",
    refresh: "no-op up --refresh",
    change: "one limit changed",
    destroy: "destroy / removal",
};
const MEM_KINDS = [
    "engine",
    "language-host",
    "program",
    "language-host+program",
    "provider-postgresql",
    "provider-random",
    "provider-dynamic",
    "ansible",
    "psql",
];

const fmt = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? "–" : x.toFixed(digits));
const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? "–" : `${(a / b).toFixed(1)}×`);
/** The after's change relative to the before, `+4.3%` / `−20%`. */
const change = (before: number, after: number, digits = 0) => {
    const pct = (after / before - 1) * 100;
    return `${pct < 0 ? "−" : "+"}${Math.abs(pct).toFixed(digits)}%`;
};
/** Before over after, finer than ratio(), with the after's change: `1.25× (−20%)` (> 1×: the after is faster). */
const speedup = (before: number | null | undefined, after: number | null | undefined) => {
    if (before === null || before === undefined || after === null || after === undefined || before === 0 || after === 0) return "–";
    return `${(before / after).toFixed(2)}× (${change(before, after)})`;
};
/** The tool of `--baseline`'s variant: the program before, against `pulumi`, the program after. */
const BEFORE = toolName({ name: BASELINE_VARIANT });

function table(header: string[], rows: string[][]): string {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const line = (cells: string[]) => "| " + cells.map((c, i) => (c ?? "").padEnd(widths[i])).join(" | ") + " |";
    return [line(header), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...rows.map(line)].join("\n");
}

export interface Summary {
    tool: string;
    n: number;
    phase: string;
    runs: number;
    seconds: number | null;
    secondsMin: number | null;
    secondsMax: number | null;
    /** Median over the runs of each run's peak sessions. */
    peakConnections: number | null;
    /** Maximum over the runs and samples. */
    maxConnections: number | null;
    /** The pool the stack's budget reserves for the tool (Pulumi), the smallest seen over the runs. */
    pool: number | null;
    cpuSeconds: number | null;
    cpuByKind: Record<string, number> | null;
    loadAvg: number | null;
    peakRssMiB: Record<string, number | null>;
    /** Maximum over the runs of the peak RSS of all the tool's processes. */
    maxRssTotalMiB: number | null;
    changes: Record<string, number>;
}

function medianRecord(records: Record<string, number>[]): Record<string, number> | null {
    if (records.length === 0) return null;
    const keys = new Set(records.flatMap((r) => Object.keys(r)));
    return Object.fromEntries([...keys].map((k) => [k, median(records.map((r) => r[k] ?? 0)) ?? 0]));
}

export function summarize(measurements: Measurement[]): Summary[] {
    const groups = new Map<string, Measurement[]>();
    for (const m of measurements) {
        const key = `${m.tool}|${m.n}|${m.phase}`;
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key)!.push(m);
    }
    return [...groups.values()].map((ms) => {
        const rss: Record<string, number | null> = {};
        for (const kind of [...MEM_KINDS, "providers", "total"]) {
            const v = ms.map((m) => (kind === "total" ? m.sample.rssTotalKiB : m.sample.rssKiB[kind]) ?? NaN).map((k) => k / 1024);
            rss[kind] = median(v);
        }
        const secs = ms.map((m) => m.seconds);
        return {
            tool: ms[0].tool,
            n: ms[0].n,
            phase: ms[0].phase,
            runs: ms.length,
            seconds: median(secs),
            secondsMin: Math.min(...secs),
            secondsMax: Math.max(...secs),
            peakConnections: median(ms.map((m) => m.sample.connections)),
            maxConnections: Math.max(...ms.map((m) => m.sample.connections)),
            pool: ms.some((m) => m.pool !== undefined) ? Math.min(...ms.map((m) => m.pool ?? Infinity)) : null,
            cpuSeconds: median(ms.map((m) => m.cpuSeconds ?? NaN)),
            cpuByKind: medianRecord(ms.map((m) => m.sample.cpuSeconds ?? {})),
            loadAvg: median(ms.map((m) => m.loadAvg)),
            peakRssMiB: rss,
            maxRssTotalMiB: Math.max(...ms.map((m) => m.sample.rssTotalKiB)) / 1024,
            changes: ms[0].changes,
        };
    });
}

export interface BeforeAfter {
    n: number;
    phase: string;
    /** Median wall and CPU seconds of `pulumi:before` (--baseline) and of `pulumi` (--program). */
    beforeSeconds: number | null;
    afterSeconds: number | null;
    /** before / after: > 1 when the after is faster. */
    speedup: number | null;
    beforeCpuSeconds: number | null;
    afterCpuSeconds: number | null;
    cpuSpeedup: number | null;
}

export async function writeReport(given: ReportInput): Promise<boolean> {
    const input = { ...given, checks: withMissing(given.measurements, given.checks) };
    const summaries = summarize(input.measurements);
    const get = (tool: string, n: number, phase: string) => summaries.find((s) => s.tool === tool && s.n === n && s.phase === phase);
    /** One cell per phase ("–" where the tool did not run it), or undefined if it ran none at this N. */
    const phaseCells = (tool: string, n: number, cell: (s: NonNullable<ReturnType<typeof get>>) => string): string[] | undefined => {
        const cells = PHASES.map((ph) => {
            const s = get(tool, n, ph);
            return s ? cell(s) : "–";
        });
        return cells.every((c) => c === "–") ? undefined : cells;
    };
    const tools = [...new Set(input.measurements.map((m) => m.tool))];
    const pulumiTools = tools.filter((t) => t.startsWith("pulumi"));
    const sizes = [...new Set(input.measurements.map((m) => m.n))].sort((a, b) => a - b);
    const hasBefore = pulumiTools.includes(BEFORE) && pulumiTools.includes("pulumi");
    const programs = (input.meta.programs ?? {}) as Record<string, string>;
    const variants = (input.meta.options as { variants?: { name: string; description: string }[] } | undefined)?.variants ?? [];
    const out: string[] = [];

    const meta = input.meta as ReportInput["meta"] & {
        program?: string;
        commit?: string;
        commitDate?: string;
        programFilesCommit?: string;
        finished?: string;
        versions?: Record<string, string>;
        options?: { variants?: { name: string; preview?: boolean }[]; pool?: number; previews?: number };
    };
    const v = meta.versions ?? {};
    // Runs saved before the report named the commit: the work tree's HEAD, +dirty if its program files differed.
    const commit =
        meta.commit ??
        (meta.program && meta.program !== "worktree"
            ? meta.program
            : `${v.repoCommit ?? "?"}${v.programFilesChangedSinceCommit ? "+dirty" : ""}`);
    const ok = allPass(input.checks);
    const failed = input.checks.filter((c) => !c.pass);
    out.push(`# app-databases benchmark: program ${commit}, ${String(input.meta.started).slice(0, 10)}`, "");
    out.push(
        `Program at commit **${commit}**${meta.commitDate ? ` (committed ${meta.commitDate})` : ""}` +
            `${meta.programFilesCommit && !commit.startsWith(meta.programFilesCommit) ? `, whose program files were last changed at ${meta.programFilesCommit}` : ""}` +
            `${commit.endsWith("+dirty") ? "; +dirty: the work tree's program files differed from that commit" : ""}. ` +
            `Measured ${input.meta.started}${meta.finished ? ` to ${meta.finished}` : ""} (${input.meta.totalMinutes.toFixed(1)} min) ` +
            `on ${v.cpus ?? "?"} CPUs, ${v.memory ?? "?"}; ${v.pulumi ? `Pulumi ${v.pulumi}, ` : ""}${v.postgres ?? ""}` +
            `${v.ansibleCore ? `, ansible-core ${v.ansibleCore} with community.postgresql ${v.communityPostgresql ?? "?"}` : ""}.`,
        "",
        `**Checks: ${ok ? "PASS" : "FAIL"}** (${input.checks.length - failed.length} of ${input.checks.length} passed` +
            `${input.checks.length === 0 ? "; no check was made" : ""}). The exit code follows the checks only; the goals below are reported, not asserted.`,
        "",
    );

    // Goals of issue 14 (reported).
    const defaultVariant = meta.options?.variants?.find((x) => x.name === "default");
    // Runs saved before the pool was read from the stack: the program's rule then, provisioningConnections + 1.
    const assumedPool = (meta.options?.pool ?? 2) + 1;
    const goalRows = goals(input.measurements, input.checks, defaultVariant?.preview === true, assumedPool, input.facts).map((g) => [
        g.goal,
        g.measured,
        g.target,
        g.met === null ? (g.target === "–" ? "–" : "no verdict") : g.met ? "met" : "NOT met",
    ]);
    out.push("## Goals (issue 14; reported, not asserted)", "", table(["goal", "measured", "target", "met?"], goalRows), "");

    // Checks: per name and tool, passes over checks made; then each failure.
    const checkTools = [...new Set(input.checks.map((c) => c.tool))];
    const names = [...new Set([...checkTools.flatMap((t) => expectedChecks(t)), ...input.checks.map((c) => c.name)])];
    const checkRows = names.map((name) => [
        name,
        ...checkTools.map((t) => {
            const cs = input.checks.filter((c) => c.tool === t && c.name === name);
            if (cs.length === 0) return "–";
            const passed = cs.filter((c) => c.pass).length;
            return `${passed === cs.length ? "PASS" : "FAIL"} ${passed}/${cs.length}`;
        }),
    ]);
    out.push("## Checks (every run of every tool; `–`: not a check of that tool)", "", table(["check", ...checkTools], checkRows), "");
    if (failed.length) {
        out.push("Failed or missing:", "");
        for (const c of failed.slice(0, 40)) out.push(`- ${c.tool} N=${c.n} run ${c.run}, ${c.name}: ${c.details.slice(0, 5).join("; ")}`);
        if (failed.length > 40) out.push(`- ... and ${failed.length - 40} more (in the JSON)`);
        out.push("");
    }
    out.push(
        `Wall seconds: median / max over the runs, the number of runs in brackets (the no-op preview: of its measurements, ` +
            `${meta.options?.previews ?? 1} per Pulumi run); ratios are medians, this program (${"`pulumi`"}) over Ansible and over raw SQL` +
            `, and each other Pulumi variant over ${"`pulumi`"}.`,
        "",
    );
    const calibrated = sizes
        .map((n) => {
            const byRun = new Map<string, number>();
            for (const m of input.measurements) {
                if (m.n === n && m.phase === "preview" && m.calibrationCpuSeconds !== undefined)
                    byRun.set(`${m.tool} run ${m.run}`, m.calibrationCpuSeconds);
            }
            return byRun.size ? `N=${n}: ${[...byRun.values()].map((x) => x.toFixed(2)).join(", ")}` : "";
        })
        .filter((x) => x);
    if (calibrated.length) {
        out.push(
            "Machine speed before each run's no-op previews: CPU seconds of a fixed single-threaded workload " +
                `(bench/src/util.ts ${"`calibrate`"}, median of 3; higher is a slower machine at that moment): ${calibrated.join("; ")}.`,
            "",
        );
    }
    if (pulumiTools.length) {
        out.push("Pulumi variants (tool: how it ran, which program):", "");
        for (const t of pulumiTools) {
            const v = variants.find((x) => toolName(x) === t);
            out.push(`- ${"`"}${t}${"`"}: ${v?.description ?? `program ${programs[t] ?? "?"}`}`);
        }
        out.push("");
    }
    if (hasBefore) {
        out.push(
            `Before/after: ${"`pulumi:before`"} is the ${describeSource(programs[BEFORE] ?? "?")} (before), ` +
                `${"`pulumi`"} the ${describeSource(programs.pulumi ?? "?")} (after), same flags, server and runs. ` +
                `"speed-up" = before seconds / after seconds (> 1×: the after is faster), with the after's change in time in brackets; ` +
                `CPU seconds vary less than wall seconds with other load on the machine.`,
            "",
        );
    }
    const timeHeader = [
        "N",
        "phase",
        ...tools.map((t) => `${t} s (median / max [runs])`),
        "pulumi/ansible",
        "pulumi/SQL",
        ...pulumiTools.filter((t) => t !== "pulumi").map((t) => `${t}/pulumi`),
        ...(hasBefore ? ["speed-up before/after (wall)", "speed-up before/after (CPU)"] : []),
    ];
    const timeRows: string[][] = [];
    const beforeAfter: BeforeAfter[] = [];
    for (const n of sizes) {
        for (const phase of PHASES) {
            const cells = tools.map((t) => {
                const s = get(t, n, phase);
                return s ? `${fmt(s.seconds)} / ${fmt(s.secondsMax)} [${s.runs}]` : "–";
            });
            if (cells.every((c) => c === "–")) continue;
            const p = get("pulumi", n, phase)?.seconds ?? null;
            timeRows.push([
                String(n),
                PHASE_LABEL[phase],
                ...cells,
                ratio(p, get("ansible", n, phase)?.seconds ?? null),
                ratio(p, get("sql", n, phase)?.seconds ?? null),
                ...pulumiTools.filter((t) => t !== "pulumi").map((t) => ratio(get(t, n, phase)?.seconds ?? null, p)),
                ...(hasBefore
                    ? [
                          speedup(get(BEFORE, n, phase)?.seconds, p),
                          speedup(get(BEFORE, n, phase)?.cpuSeconds, get("pulumi", n, phase)?.cpuSeconds),
                      ]
                    : []),
            ]);
            const b = get(BEFORE, n, phase);
            const a = get("pulumi", n, phase);
            if (hasBefore && (a || b)) {
                const div = (x: number | null | undefined, y: number | null | undefined) =>
                    x === null || x === undefined || y === null || y === undefined || y === 0 ? null : x / y;
                beforeAfter.push({
                    n,
                    phase,
                    beforeSeconds: b?.seconds ?? null,
                    afterSeconds: a?.seconds ?? null,
                    speedup: div(b?.seconds, a?.seconds),
                    beforeCpuSeconds: b?.cpuSeconds ?? null,
                    afterCpuSeconds: a?.cpuSeconds ?? null,
                    cpuSpeedup: div(b?.cpuSeconds, a?.cpuSeconds),
                });
            }
        }
    }
    out.push("## Time", "", table(timeHeader, timeRows), "");

    const resRows = input.facts.map((f) => {
        const created = get(f.tool, f.n, "create")?.changes.create;
        const ansibleChanged = get("ansible", f.n, "create")?.changes.changed;
        // The after's row also shows the before's state and the change, when --baseline ran.
        const before = hasBefore && f.tool === "pulumi" ? input.facts.find((x) => x.tool === BEFORE && x.n === f.n) : undefined;
        return [
            String(f.n),
            f.tool + (programs[f.tool] ? ` (${programs[f.tool]})` : ""),
            String(created ?? "–"),
            String(f.resources) + (before ? ` (before: ${before.resources})` : ""),
            `${f.perApp} (${f.perAppCustom} custom)`,
            `${(f.stateBytes / 1024).toFixed(0)} KiB` +
                (before ? ` (before: ${(before.stateBytes / 1024).toFixed(0)} KiB, ${change(before.stateBytes, f.stateBytes, 1)})` : ""),
            String(ansibleChanged ?? "–"),
        ];
    });
    out.push(
        "## Resources",
        "",
        table(
            [
                "N",
                "tool",
                "resources created",
                "in state (with stack, providers, components)",
                "per app",
                "state size",
                "Ansible changed items (create)",
            ],
            resRows,
        ),
        "",
    );

    const connRows: string[][] = [];
    let anyOver = false;
    for (const n of sizes) {
        for (const t of tools) {
            const per = phaseCells(t, n, (s) => {
                const pool = s.pool ?? (t.startsWith("pulumi") ? assumedPool : null);
                const over = pool !== null && s.maxConnections !== null && s.maxConnections > pool;
                anyOver ||= over;
                return `${s.maxConnections}${over ? "!" : ""} (${s.peakConnections})`;
            });
            if (!per) continue;
            const ofTool = input.measurements.filter((m) => m.tool === t && m.n === n);
            const top = ofTool.reduce<Measurement | undefined>(
                (x, m) => (!x || m.sample.connections > x.sample.connections ? m : x),
                undefined,
            );
            const pools = [...new Set(ofTool.filter((m) => m.pool !== undefined).map((m) => m.pool))];
            const budget = !t.startsWith("pulumi")
                ? "– (no budget)"
                : pools.length
                  ? `${pools.join(", ")} (stack output budgets: provisioning)`
                  : `${assumedPool} (assumed: provisioningConnections + 1; not read from the stack)`;
            connRows.push([
                String(n),
                t,
                ...per,
                budget,
                top?.sample.connectionsAt
                    ? `${PHASE_LABEL[top.phase]}, run ${top.run}: ${JSON.stringify(top.sample.connectionsAt.byApplication)} in ${top.sample.connectionsAt.databases} dbs`
                    : "–",
            ]);
        }
    }
    out.push(
        "## Admin-user connections held by the tool: max over runs and samples (median of the runs' peaks)",
        "",
        "pg_stat_activity every 100 ms, the sampler's own session excluded (a shorter burst can be missed). " +
            "`!`: above the pool the stack's budget reserves for the provisioning tool.",
        "",
        table(["N", "tool", ...PHASES.map((p) => PHASE_LABEL[p]), "budget reserves", "at the highest peak, by application_name"], connRows),
        "",
    );
    if (anyOver) out.push("**Above the reserved pool in at least one phase** (marked `!`).", "");

    const pulumiKinds = [
        "engine",
        "language-host",
        "program",
        "language-host+program",
        "provider-postgresql",
        "provider-random",
        "provider-dynamic",
        "total",
    ];
    const memRows: string[][] = [];
    for (const n of sizes) {
        for (const t of tools) {
            const s = get(t, n, "create");
            if (!s) continue;
            const every = input.measurements.filter((m) => m.tool === t && m.n === n);
            const top = every.reduce((x, m) => (m.sample.rssTotalKiB > x.sample.rssTotalKiB ? m : x));
            memRows.push([
                String(n),
                t,
                ...pulumiKinds.map((k) => {
                    if (k === "total") return `${fmt(s.peakRssMiB.total, 0)} / ${fmt(s.maxRssTotalMiB, 0)}`;
                    if (t.startsWith("pulumi") || t === "handwritten") return fmt(s.peakRssMiB[k], 0);
                    return k === "engine" ? `${t}: ${fmt(s.peakRssMiB[t === "sql" ? "psql" : "ansible"], 0)}` : "";
                }),
                `${(top.sample.rssTotalKiB / 1024).toFixed(0)} (${PHASE_LABEL[top.phase]})`,
            ]);
        }
    }
    out.push(
        "## Peak RSS, MiB (summed per kind of process, /proc every 100 ms): per kind, the first up's median; all processes, median / max of the first up, and the max over every phase",
        "",
        table(
            [
                "N",
                "tool",
                "engine (pulumi)",
                "language host",
                "node program",
                "host + program",
                "postgresql provider",
                "random provider",
                "dynamic provider (node)",
                "all processes (first up, median / max)",
                "all processes, max over every phase",
            ],
            memRows,
        ),
        "",
    );

    const cpuRows: string[][] = [];
    for (const n of sizes) {
        for (const t of tools) {
            const cells = phaseCells(t, n, (s) => fmt(s.cpuSeconds, 1));
            if (!cells) continue;
            const c = get(t, n, "create");
            const split = c?.cpuByKind
                ? Object.entries(c.cpuByKind)
                      .filter(([, v]) => v >= 0.05)
                      .sort((a, b) => b[1] - a[1])
                      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
                      .join(", ")
                : "–";
            cpuRows.push([String(n), t, ...cells, split]);
        }
    }
    out.push(
        "## CPU seconds (user + system of the command's process tree; load-independent, unlike wall time)",
        "",
        table(["N", "tool", ...PHASES.map((p) => PHASE_LABEL[p]), "create: by kind of process (median run)"], cpuRows),
        "",
    );

    out.push(
        "End state: the catalog (roles + attributes + connlimit + rolconfig + password kind, databases + owner + datacl, pg_default_acl) " +
            "is compared with the same expected catalog for every tool after create and after the change, and must hold no app role or " +
            "database after destroy/removal; so PASS for all means identical end states.",
        "",
    );

    const text = out.join("\n");
    process.stdout.write("\n" + text + "\n");

    const resultsDir = path.join(BENCH_DIR, "results");
    fs.mkdirSync(resultsDir, { recursive: true });
    const stamp = String(input.meta.started).replace(/[:.]/g, "-").replace(/Z$/, "");
    // A smoke test (--quick) keeps its own "latest", so latest.* stays the last real benchmark.
    const kind = (input.meta.options as { quick?: boolean } | undefined)?.quick ? "quick" : "bench";
    const latest = kind === "quick" ? "quick-latest" : "latest";
    const json = JSON.stringify(
        {
            ...input.meta,
            // The venv's path is this machine's, not a fact of the run.
            ...(meta.options ? { options: { ...meta.options, venv: undefined } } : {}),
            pass: ok,
            commit,
            goals: goals(input.measurements, input.checks, defaultVariant?.preview === true, assumedPool, input.facts),
            summaries,
            ...(hasBefore ? { beforeAfter } : {}),
            checks: input.checks,
            facts: input.facts,
            measurements: input.measurements,
        },
        null,
        2,
    );
    // Only the latest of each kind is kept in git; every run also goes to the git-ignored archive.
    const archiveDir = path.join(resultsDir, "archive");
    fs.mkdirSync(archiveDir, { recursive: true });
    const stamped = path.join(archiveDir, `${kind}-${stamp}.json`);
    fs.writeFileSync(stamped, json);
    fs.writeFileSync(path.join(resultsDir, `${latest}.json`), json);
    fs.writeFileSync(path.join(archiveDir, `${kind}-${stamp}.md`), text);
    fs.writeFileSync(path.join(resultsDir, `${latest}.md`), text);
    log(`results: ${stamped}, ${path.join(resultsDir, `${latest}.json`)}, ${latest}.md`);

    const python = process.env.BENCH_VENV ? path.join(process.env.BENCH_VENV, "bin", "python") : "python3";
    const png = path.join(archiveDir, `${kind}-${stamp}.png`);
    const chart = await run(python, [path.join(BENCH_DIR, "chart.py"), stamped, png, path.join(resultsDir, `${latest}.png`)], {
        check: false,
    });
    if (chart.code === 0) log(`chart: ${png} and ${path.join(resultsDir, `${latest}.png`)}`);
    else log(`chart failed (${chart.code}): ${chart.stderr.trim().split("\n").slice(-3).join(" ")}`);
    return ok;
}
