/**
 * The benchmark: for N apps on one throwaway PostgreSQL server, the program
 * (Pulumi CLI, file backend) against Ansible and raw SQL, with the end states
 * checked equal before any time is compared. See bench/README.md.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TestCluster } from "../../test/kit/postgres";
import { appSpecs } from "./catalog";
import { errorText } from "./checks";
import { AnsibleTool, SqlTool } from "./otherTools";
import {
    BASELINE_VARIANT,
    describeSource,
    PROJECT_FILES,
    PulumiProject,
    PulumiVariant,
    resolveSource,
    toolName,
    VARIANTS,
} from "./pulumiTool";
import { ReportInput, writeReport } from "./report";
import { MAX_APPS, maxConnectionsForPool } from "./sizing";
import { HANDWRITTEN, HandwrittenProject } from "./handwrittenTool";
import { Check, Measurement, StateFacts } from "./measurements";
import { PAIRED_SIZES } from "./goals";
import { SizeRun } from "./toolRuns";
import { appNames, BENCH_DIR, log, PgTarget, REPO_ROOT, run } from "./util";

export interface Options {
    sizes: number[];
    /** Runs of Pulumi and raw SQL per N. */
    runs: Record<number, number>;
    /** Runs of Ansible per N (it is the slowest; 0 skips it at that N). */
    ansibleRuns: Record<number, number>;
    /** Runs of the hand-written @pulumi/postgresql peer per N (0 skips it at that N). */
    handwrittenRuns: Record<number, number>;
    /** `worktree` or a git revision: the program of every variant but `before`. */
    program: string;
    /** A git revision: adds the variant `before`, the default variant on the program at that revision. */
    baseline?: string;
    /** The sizes at which the variants other than `default` and `before` run too (default: every size). */
    variantSizes?: number[];
    /** Hang guard of each Pulumi command, seconds (0: none). */
    guardSec: number;
    tools: string[];
    variants: PulumiVariant[];
    venv: string;
    keep: boolean;
    quick: boolean;
    /** provisioningConnections in the stack config; undefined: the program's default (2). */
    pool?: number;
    /** No-op previews per Pulumi run: each measured and checked; the goal takes their median. */
    previews: number;
    /**
     * Pairs of no-op previews of N=10 and N=100, both stacks up side by side and
     * previewed in turn (0: none): the preview goal's ratio, free of the machine's
     * changes of speed between sizes measured minutes apart.
     */
    pairedPreviews: number;
}

function parseArgs(argv: string[]): Options {
    const opts: Options = {
        sizes: [10, 50, 100],
        runs: { 10: 3, 50: 3, 100: 1 },
        ansibleRuns: { 10: 3, 50: 3, 100: 1 },
        handwrittenRuns: { 10: 1, 50: 1, 100: 1 },
        program: "worktree",
        guardSec: 1800,
        tools: ["pulumi", HANDWRITTEN, "ansible", "sql"],
        variants: [VARIANTS.default],
        venv: process.env.BENCH_VENV ?? "",
        keep: false,
        quick: false,
        previews: 3,
        pairedPreviews: 5,
    };
    /** `3` (every N) or `10=3,50=1` (per N; N not named keep their value). */
    const perN = (text: string, into: Record<number, number>) => {
        if (/^\d+$/.test(text)) {
            for (const n of [...opts.sizes, ...Object.keys(into).map(Number)]) into[n] = Number(text);
            into[-1] = Number(text); // for sizes named later
            return;
        }
        for (const part of text.split(",")) {
            const m = /^(\d+)=(\d+)$/.exec(part);
            if (!m) throw new Error(`expected RUNS or N=RUNS,N=RUNS, got ${text}`);
            into[Number(m[1])] = Number(m[2]);
        }
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => {
            const v = argv[++i];
            if (v === undefined) throw new Error(`${a} needs a value`);
            return v;
        };
        if (a === "--quick") {
            opts.quick = true;
            opts.pairedPreviews = 0;
            opts.sizes = [10];
            opts.runs = { 10: 1 };
            opts.ansibleRuns = { 10: 1 };
            opts.handwrittenRuns = { 10: 1 };
        } else if (a === "--full") {
            opts.runs = { 10: 3, 50: 3, 100: 3, [-1]: 3 };
            opts.ansibleRuns = { 10: 3, 50: 3, 100: 3, [-1]: 3 };
            opts.handwrittenRuns = { 10: 3, 50: 3, 100: 3, [-1]: 3 };
        } else if (a === "--sizes") opts.sizes = value().split(",").map(Number);
        else if (a === "--runs") perN(value(), opts.runs);
        else if (a === "--ansible-runs") perN(value(), opts.ansibleRuns);
        else if (a === "--handwritten-runs") perN(value(), opts.handwrittenRuns);
        else if (a === "--program") opts.program = value();
        else if (a === "--baseline") opts.baseline = value();
        else if (a === "--variant-sizes") opts.variantSizes = value().split(",").map(Number);
        else if (a === "--guard") opts.guardSec = Number(value());
        else if (a === "--tools") opts.tools = value().split(",");
        else if (a === "--variants") {
            opts.variants = value()
                .split(",")
                .map((v) => {
                    if (!VARIANTS[v])
                        throw new Error(
                            `unknown variant ${v}; known: ${Object.keys(VARIANTS).join(", ")} (and ${BASELINE_VARIANT}, from --baseline <rev>)`,
                        );
                    return VARIANTS[v];
                });
        } else if (a === "--keep") opts.keep = true;
        else if (a === "--pool") opts.pool = Number(value());
        else if (a === "--previews") opts.previews = Number(value());
        else if (a === "--paired-previews") opts.pairedPreviews = Number(value());
        else throw new Error(`unknown argument ${a} (see bench/README.md)`);
    }
    if (opts.sizes.some((n) => !Number.isInteger(n) || n < 1 || n > MAX_APPS)) throw new Error(`--sizes: integers from 1 to ${MAX_APPS}`);
    if (!Number.isInteger(opts.pairedPreviews) || opts.pairedPreviews < 0 || opts.pairedPreviews > 20)
        throw new Error(`--paired-previews: an integer from 0 to 20, got ${opts.pairedPreviews}`);
    if (!Number.isInteger(opts.previews) || opts.previews < 1 || opts.previews > 20)
        throw new Error(`--previews: an integer from 1 to 20, got ${opts.previews}`);
    // N not named: the value given for every N, else 3 (Pulumi, SQL) and 1 (Ansible).
    for (const n of opts.sizes) {
        opts.runs[n] ??= opts.runs[-1] ?? 3;
        opts.ansibleRuns[n] ??= opts.ansibleRuns[-1] ?? 1;
        opts.handwrittenRuns[n] ??= opts.handwrittenRuns[-1] ?? 1;
    }
    delete opts.runs[-1];
    delete opts.ansibleRuns[-1];
    delete opts.handwrittenRuns[-1];
    return opts;
}

async function versions(venv: string): Promise<Record<string, string>> {
    const out = async (cmd: string, args: string[]) => {
        try {
            return (await run(cmd, args, { check: false })).stdout.trim().split("\n")[0];
        } catch {
            return "(not found)";
        }
    };
    const collection = await out(path.join(venv, "bin", "ansible-galaxy"), [
        "collection",
        "list",
        "community.postgresql",
        "--format",
        "json",
    ]);
    let communityPostgresql = "(unknown)";
    try {
        const raw = (
            await run(path.join(venv, "bin", "ansible-galaxy"), ["collection", "list", "community.postgresql", "--format", "json"], {
                check: false,
            })
        ).stdout;
        const parsed = JSON.parse(raw) as Record<string, Record<string, { version: string }>>;
        communityPostgresql = Object.values(parsed)[0]?.["community.postgresql"]?.version ?? collection;
    } catch {
        // keep unknown
    }
    return {
        pulumi: await out("pulumi", ["version"]),
        node: process.version,
        postgres: await out(path.join(process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin", "postgres"), ["--version"]),
        psql: await out("psql", ["--version"]),
        ansibleCore: (await out(path.join(venv, "bin", "ansible"), ["--version"])).replace(/^ansible /, ""),
        communityPostgresql,
        cpus: String(os.cpus().length),
        memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
        repoCommit: await out("git", ["-C", path.resolve(BENCH_DIR, ".."), "rev-parse", "--short", "HEAD"]),
        programFilesChangedSinceCommit: (
            await run(
                "git",
                [
                    "-C",
                    path.resolve(BENCH_DIR, ".."),
                    "status",
                    "--porcelain",
                    "--",
                    "Pulumi.yaml",
                    "package.json",
                    "tsconfig.json",
                    "index.ts",
                    "components",
                    "program",
                ],
                { check: false },
            )
        ).stdout
            .trim()
            .split("\n")
            .filter(Boolean)
            .join("; "),
    };
}

/**
 * The program's commit as the report names it: the short hash, `+dirty` when the work tree's
 * program files (the ones copied into the project) differ from it, and the commit's date.
 */
async function programCommit(program: string): Promise<{ commit: string; commitDate: string; programFilesCommit: string }> {
    const git = async (...args: string[]) => (await run("git", ["-C", REPO_ROOT, ...args], { check: false })).stdout.trim();
    const rev = program === "worktree" ? "HEAD" : program;
    const commit = await git("rev-parse", "--short", rev);
    const commitDate = await git("show", "-s", "--format=%cI", rev);
    const dirty = program === "worktree" && (await git("status", "--porcelain", "--", ...PROJECT_FILES)) !== "";
    // The last commit that changed the program's files: a bench-only commit on top does not change what was measured.
    const programFilesCommit = await git("log", "-1", "--format=%h", rev, "--", ...PROJECT_FILES);
    return { commit: commit + (dirty ? "+dirty" : ""), commitDate, programFilesCommit };
}

/** Checks of a results JSON written before checks had names (`stage`, `diffs`), in today's shape. */
function upgradeChecks(
    checks: Array<Check | { tool: string; n: number; run: number; stage: string; pass: boolean; diffs: string[] }>,
): Check[] {
    return checks.map((c) =>
        "name" in c ? c : { tool: c.tool, n: c.n, run: c.run, name: `catalog after ${c.stage}`, pass: c.pass, details: c.diffs },
    );
}

/**
 * `--render <results json> [more json]`: rewrites the tables and the chart of a saved run (after a
 * report change), measuring nothing. Several files make one report (the last one's header): e.g. an
 * N=1000 run and an N=100 run taken one after the other, for the goals that need both.
 */
async function render(files: string[]): Promise<void> {
    type Saved = ReportInput["meta"] & Omit<ReportInput, "meta" | "workDir">;
    const runs = files.map((f) => JSON.parse(fs.readFileSync(f, "utf8")) as Saved);
    const { measurements, checks, facts, ...meta } = runs[runs.length - 1];
    const ok = await writeReport({
        meta: runs.length > 1 ? { ...meta, renderedFrom: runs.map((r) => r.started) } : meta,
        measurements: runs
            .slice(0, -1)
            .flatMap((r) => r.measurements)
            .concat(measurements),
        checks: upgradeChecks(
            runs
                .slice(0, -1)
                .flatMap((r) => r.checks)
                .concat(checks),
        ),
        facts: runs
            .slice(0, -1)
            .flatMap((r) => r.facts)
            .concat(facts),
        workDir: path.dirname(files[files.length - 1]),
    });
    if (!ok) process.exitCode = 1;
}

async function main(): Promise<void> {
    if (process.argv[2] === "--render") return render(process.argv.slice(3));
    const opts = parseArgs(process.argv.slice(2));
    if (opts.tools.includes("ansible") && !opts.venv) throw new Error("BENCH_VENV is not set (bench/run.sh sets it)");
    const stamp = new Date().toISOString().replace(/[:.]/g, "-").replace(/Z$/, "");
    const work = path.join(BENCH_DIR, "work", stamp);
    // A git revision is resolved once, so every run measures the same program while others commit.
    const program = await resolveSource(opts.program);
    const baseline = opts.baseline === undefined ? undefined : await resolveSource(opts.baseline);
    // Each variant names its program: --program for all of them, --baseline for `before`
    // (the default variant's flags, right after it so that the two run back to back).
    const variants: PulumiVariant[] = opts.variants.map((v) => ({
        ...v,
        description: `${v.description}; ${describeSource(program)}`,
        source: program,
    }));
    if (baseline !== undefined) {
        if (baseline === program) log(`WARNING: --baseline ${opts.baseline} is the same commit as --program ${opts.program} (${program})`);
        const at = variants.findIndex((v) => v.name === "default") + 1 || variants.length;
        variants.splice(at, 0, {
            ...VARIANTS.default,
            name: BASELINE_VARIANT,
            description: `${VARIANTS.default.description}; ${describeSource(baseline)} (--baseline ${opts.baseline})`,
            source: baseline,
        });
    }
    opts.variants = variants;
    fs.mkdirSync(work, { recursive: true });
    PulumiProject.hangGuardSec = opts.guardSec;
    log(
        `work dir ${work}; sizes ${opts.sizes.join(",")}; runs ${JSON.stringify(opts.runs)}; Ansible runs ${JSON.stringify(opts.ansibleRuns)}; program ${program}${baseline !== undefined ? `; baseline ${baseline}` : ""}; provisioningConnections ${opts.pool ?? "2 (default)"}; tools ${opts.tools.join(",")}; variants ${opts.variants.map((v) => `${v.name} (${v.source})`).join(", ")}`,
    );

    const measurements: Measurement[] = [];
    const checks: Check[] = [];
    const facts: StateFacts[] = [];
    const started = Date.now();
    const meta = {
        started: new Date().toISOString(),
        program,
        baseline: baseline ?? null,
        /** Which program each Pulumi tool ran: "worktree" or a short commit hash. */
        programs: Object.fromEntries(opts.variants.map((v) => [toolName(v), v.source])),
        /** The program's commit (`+dirty`: the work tree's program files differ from it) and the commit's date. */
        ...(await programCommit(program)),
        options: { ...opts, variants: opts.variants.map((v) => ({ ...v })) },
        versions: await versions(opts.venv),
    };

    // A failure at one N is recorded as a failed check and the next N still runs: the figures measured so far are kept.
    for (const n of opts.sizes) {
        try {
            await measureSize(n);
        } catch (err) {
            checks.push({ tool: "(benchmark)", n, run: 0, name: "size completed", pass: false, details: [errorText(err)] });
            log(`N=${n} failed, going on with the next size: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        }
    }

    if (opts.pairedPreviews > 0 && opts.tools.includes("pulumi")) {
        try {
            await pairedPreviews(PAIRED_SIZES[0], PAIRED_SIZES[1], opts.pairedPreviews);
        } catch (err) {
            checks.push({
                tool: "(benchmark)",
                n: PAIRED_SIZES[1],
                run: 0,
                name: "paired previews completed",
                pass: false,
                details: [errorText(err)],
            });
            log(`paired previews failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        }
    }

    /**
     * The two stacks of the preview goal, each on its own server, up side by
     * side; then `pairs` no-op previews of each, taken in turn (which goes first
     * alternates), so that both sizes of a pair meet the machine at the same speed.
     */
    async function pairedPreviews(small: number, large: number, pairs: number): Promise<void> {
        const variant = opts.variants.find((v) => v.name === "default");
        if (!variant) return;
        const sides: { size: SizeRun; project: PulumiProject; pool: number | undefined }[] = [];
        const clusters: TestCluster[] = [];
        try {
            for (const n of [small, large]) {
                const apps = appSpecs(appNames(n));
                const { cluster, pg, maxConnections } = await startServer(n);
                clusters.push(cluster);
                const project = new PulumiProject(path.join(work, `pulumi-paired-n${n}`), variant, pg);
                await project.init();
                await project.configure(apps, { maxConnections, provisioningConnections: opts.pool });
                await project.up();
                const setup = { n, pg, apps, changed: apps, maxConnections, provisioningConnections: opts.pool };
                sides.push({ size: new SizeRun(setup, measurements, checks, facts), project, pool: await project.reservedPool() });
            }
            log(`paired previews: N=${small} and N=${large} are up; ${pairs} pairs`);
            for (let pair = 1; pair <= pairs; pair++) {
                for (const side of pair % 2 === 1 ? sides : [...sides].reverse()) {
                    await side.size.pairedPreview(toolName(variant), side.project, pair, side.pool);
                }
            }
        } finally {
            // The servers go with their stacks: nothing to destroy first.
            if (!opts.keep) for (const side of sides) side.project.cleanup();
            for (const cluster of clusters) await cluster.stop();
        }
    }

    /** A throwaway server for N apps, max_connections sized for them. */
    async function startServer(n: number): Promise<{ cluster: TestCluster; pg: PgTarget; maxConnections: number }> {
        const maxConnections = maxConnectionsForPool(n, opts.pool ?? 2);
        const cluster = await new TestCluster({ maxConnections }).start();
        const pg: PgTarget = { host: "127.0.0.1", port: cluster.port, user: cluster.adminUser, password: cluster.adminPassword };
        log(`N=${n}: PostgreSQL on 127.0.0.1:${cluster.port}, max_connections ${maxConnections}`);
        return { cluster, pg, maxConnections };
    }

    async function measureSize(n: number): Promise<void> {
        const names = appNames(n);
        const apps = appSpecs(names);
        const changed = appSpecs(names, true);
        const { cluster, pg, maxConnections } = await startServer(n);
        try {
            const projects = new Map<string, PulumiProject>();
            if (opts.tools.includes("pulumi")) {
                for (const v of opts.variants) {
                    const everyN = v.name === "default" || v.name === BASELINE_VARIANT;
                    if (!everyN && opts.variantSizes && !opts.variantSizes.includes(n)) continue;
                    const p = new PulumiProject(path.join(work, `pulumi-${v.name}-n${n}`), v, pg);
                    await p.init();
                    projects.set(toolName(v), p);
                }
            }
            const handwritten = opts.tools.includes(HANDWRITTEN)
                ? new HandwrittenProject(path.join(work, `${HANDWRITTEN}-n${n}`), pg)
                : undefined;
            if (handwritten) await handwritten.init();
            const ansible = new AnsibleTool(path.join(work, `ansible-n${n}`), opts.venv, pg);
            const sql = new SqlTool(path.join(work, `sql-n${n}`), pg);

            const size = new SizeRun(
                { n, pg, apps, changed, maxConnections, provisioningConnections: opts.pool, previews: opts.previews },
                measurements,
                checks,
                facts,
            );
            const runs = Math.max(
                opts.runs[n],
                opts.tools.includes("ansible") ? opts.ansibleRuns[n] : 0,
                handwritten ? opts.handwrittenRuns[n] : 0,
            );
            for (let runNo = 1; runNo <= runs; runNo++) {
                const pulumiAndSql = runNo <= opts.runs[n];
                for (const [tool, p] of pulumiAndSql ? projects : new Map<string, PulumiProject>()) await size.pulumi(tool, p, runNo);
                if (handwritten && runNo <= opts.handwrittenRuns[n]) await size.pulumi(HANDWRITTEN, handwritten, runNo, true);
                if (opts.tools.includes("ansible") && runNo <= opts.ansibleRuns[n]) await size.ansible(ansible, runNo);
                if (opts.tools.includes("sql") && pulumiAndSql) await size.sql(sql, runNo);
            }
            if (!opts.keep) for (const p of [...projects.values(), ...(handwritten ? [handwritten] : [])]) p.cleanup();
        } finally {
            await cluster.stop();
        }
        log(`N=${n} done; ${((Date.now() - started) / 60000).toFixed(1)} min so far`);
    }

    const totalMinutes = (Date.now() - started) / 60000;
    const ok = await writeReport({
        meta: { ...meta, finished: new Date().toISOString(), totalMinutes },
        measurements,
        checks,
        facts,
        workDir: work,
    });
    if (!opts.keep) {
        for (const entry of fs.readdirSync(work)) {
            const dir = path.join(work, entry);
            for (const f of fs.readdirSync(dir)) if (!f.endsWith(".log")) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
        }
    }
    log(`logs kept in ${work}`);
    if (!ok) {
        const failed = checks.filter((c) => !c.pass);
        log(
            `FAIL: ${checks.length === 0 ? "no check was made" : `${failed.length} of ${checks.length} checks failed or are missing`}` +
                failed
                    .slice(0, 20)
                    .map((c) => `\n  ${c.tool} N=${c.n} run ${c.run} ${c.name}: ${c.details.join("; ")}`)
                    .join(""),
        );
        process.exit(1);
    }
}

main().catch((err) => {
    log(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
});
