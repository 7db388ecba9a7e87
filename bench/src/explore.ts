/**
 * Where the time goes: the same program under different engine flags, provider
 * pool sizes, TypeScript handling and checkpointing, each on a scratch copy of
 * the project (never the work tree), on one throwaway server, cleaned between
 * scenarios. `bash bench/run.sh --explore [--n 50] [--scenarios a,b] [--runs 1]`.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TestCluster } from "../../test/kit/postgres";
import { appSpecs, compareCatalogs, expectedCatalog, forceClean, snapshot } from "./catalog";
import { maxConnectionsForPool } from "./sizing";
import { PulumiProject, VARIANTS } from "./pulumiTool";
import { appNames, BENCH_DIR, log, median, PgTarget, REPO_ROOT, sampled, SampleSummary } from "./util";

type Phase = "create" | "preview" | "noop" | "refresh" | "change" | "destroy";

interface Scenario {
    readonly name: string;
    readonly what: string;
    /** provisioningConnections in the stack config (the provider's pool per database). */
    readonly pool: number;
    /** Flags for up/preview/destroy. */
    readonly args?: readonly string[];
    /** Flags for `up` only (e.g. run the preview too). */
    readonly upArgs?: readonly string[];
    readonly env?: Readonly<Record<string, string>>;
    /** Edits to the scratch copy of the project: program changes measured, never made in the repo. */
    readonly prepare?: (projectDir: string) => void;
    readonly phases?: readonly Phase[];
    /** Hang guard for this scenario, seconds. */
    readonly guardSec?: number;
}

const ALL: readonly Phase[] = ["create", "preview", "noop", "change", "destroy"];

/** Compiles the scratch copy to JS and runs it without ts-node (runtime.options.typescript: false). */
function precompile(dir: string): void {
    fs.writeFileSync(
        path.join(dir, "tsconfig.build.json"),
        JSON.stringify({
            extends: "./tsconfig.json",
            compilerOptions: { outDir: "bin", sourceMap: false, noEmit: false },
            include: ["index.ts", "components/**/*.ts", "program/**/*.ts"],
        }),
    );
    execFileSync(path.join(REPO_ROOT, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.build.json"], { cwd: dir, stdio: "inherit" });
    let yaml = fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8");
    yaml = yaml.replace(/^(\s+)typescript:\s*true\s*$/m, "$1typescript: false");
    yaml = /^main:/m.test(yaml) ? yaml.replace(/^main:.*$/m, "main: bin/index.js") : yaml + "\nmain: bin/index.js\n";
    if (!/typescript: false/.test(yaml)) throw new Error("precompile: could not set runtime.options.typescript: false in Pulumi.yaml");
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), yaml);
}

const CRD: readonly Phase[] = ["create", "destroy"];

/** Drops the per-app PlacementGuard (one dynamic resource per app) from the scratch copy: the marginal cost of one resource per app. */
function withoutPlacementGuard(dir: string): void {
    const file = path.join(dir, "program", "stack.ts");
    let src = fs.readFileSync(file, "utf8");
    const start = src.indexOf("const guard = new PlacementGuard(");
    const end = src.indexOf("});\n", start);
    if (start < 0 || end < 0 || !src.includes("{ dependsOn: [guard] }"))
        throw new Error("withoutPlacementGuard: stack.ts changed; update the experiment");
    src = src.slice(0, start) + src.slice(end + 4);
    src = src.replace("{ dependsOn: [guard] }", "{}");
    fs.writeFileSync(file, src);
}

/** Baseline: the program's defaults (provisioningConnections 2, engine --parallel 8, ts-node with type-check). */
export const SCENARIOS: Readonly<Record<string, Scenario>> = {
    default: { name: "default", what: "the program's defaults: provisioningConnections 2, --parallel 8, ts-node type-check", pool: 2 },
    "default-cd": { name: "default-cd", what: "the program's defaults, create and destroy only", pool: 2, phases: CRD },
    p1: { name: "p1", what: "--parallel 1", pool: 2, args: ["--parallel", "1"], phases: CRD },
    p32: { name: "p32", what: "--parallel 32 (provisioningConnections 2)", pool: 2, args: ["--parallel", "32"], phases: CRD },
    pool9: { name: "pool9", what: "provisioningConnections 9 (--parallel 8)", pool: 9, phases: CRD },
    "pool33-p32": {
        name: "pool33-p32",
        what: "provisioningConnections 33, --parallel 32",
        pool: 33,
        args: ["--parallel", "32"],
        phases: CRD,
    },
    transpile: {
        name: "transpile",
        what: "PULUMI_NODEJS_TRANSPILE_ONLY=true (ts-node without type-check)",
        pool: 2,
        env: VARIANTS.transpile.env,
        phases: ["create", "preview", "noop", "destroy"],
    },
    js: {
        name: "js",
        what: "program precompiled with tsc, runtime.options.typescript: false, main: bin/index.js (program change)",
        pool: 2,
        prepare: precompile,
        phases: ["create", "preview", "noop", "destroy"],
    },
    nocheckpoints: {
        name: "nocheckpoints",
        what: "PULUMI_SKIP_CHECKPOINTS=true: state written once at the end (unsafe if interrupted)",
        pool: 2,
        env: { PULUMI_SKIP_CHECKPOINTS: "true" },
        phases: ["create", "noop", "destroy"],
    },
    journal: {
        name: "journal",
        what: "the toolchain's CLI as built: the file backend journals each step (one line) and writes the checkpoint once at the end",
        pool: 2,
        phases: ["create", "noop", "destroy"],
    },
    "journal-off": {
        name: "journal-off",
        what: "PULUMI_DIY_BACKEND_JOURNAL=false: the CLI's own way, the whole checkpoint rewritten after every step",
        pool: 2,
        env: { PULUMI_DIY_BACKEND_JOURNAL: "false" },
        phases: ["create", "noop", "destroy"],
    },
    "with-preview": {
        name: "with-preview",
        what: "`pulumi up --yes` with its preview (no --skip-preview), as a person runs it",
        pool: 2,
        upArgs: ["--skip-preview=false"],
        phases: ["create", "noop", "destroy"],
    },
    "no-guard": {
        name: "no-guard",
        what: "without the per-app PlacementGuard dynamic resource (program change: -1 resource per app)",
        pool: 2,
        prepare: withoutPlacementGuard,
        phases: ["create", "noop", "destroy"],
    },
    refresh: {
        name: "refresh",
        what: "no-op `pulumi up --refresh` (reads every resource back)",
        pool: 2,
        phases: ["create", "refresh", "destroy"],
    },
};

interface Row {
    scenario: string;
    run: number;
    phase: Phase;
    seconds: number;
    cpuSeconds: number | null;
    loadAvg: number;
    timedOut: boolean;
    exitCode: number;
    changes: Record<string, number>;
    sample: SampleSummary;
}

async function main(): Promise<void> {
    const args = process.argv.slice(2);
    let n = 50;
    let runs = 1;
    let program = "worktree";
    let names = ["default", "p1", "p32", "pool9", "transpile", "js", "nocheckpoints", "with-preview", "refresh"];
    for (let i = 0; i < args.length; i++) {
        if (args[i] === "--n") n = Number(args[++i]);
        else if (args[i] === "--runs") runs = Number(args[++i]);
        else if (args[i] === "--scenarios") names = args[++i].split(",");
        else if (args[i] === "--program") program = args[++i];
        else throw new Error(`unknown argument ${args[i]}; scenarios: ${Object.keys(SCENARIOS).join(", ")}`);
    }
    for (const s of names) if (!SCENARIOS[s]) throw new Error(`unknown scenario ${s}; known: ${Object.keys(SCENARIOS).join(", ")}`);
    PulumiProject.source =
        program === "worktree"
            ? program
            : execFileSync("git", ["-C", REPO_ROOT, "rev-parse", "--short", program], { encoding: "utf8" }).trim();
    log(`program: ${PulumiProject.source}`);
    const stamp = new Date().toISOString().replace(/[:.]/g, "-").replace(/Z$/, "");
    const work = fs.mkdtempSync(path.join(process.env.BENCH_WORK ?? os.tmpdir(), `app-databases-explore-${stamp}-`));
    const apps = appSpecs(appNames(n));
    const changed = appSpecs(appNames(n), true);
    const maxPool = Math.max(...names.map((s) => SCENARIOS[s].pool));
    const maxConnections = maxConnectionsForPool(n, maxPool);
    const cluster = await new TestCluster({ maxConnections }).start();
    const pg: PgTarget = { host: "127.0.0.1", port: cluster.port, user: cluster.adminUser, password: cluster.adminPassword };
    log(`explore N=${n}, runs ${runs}, max_connections ${maxConnections}, work ${work}; scenarios ${names.join(", ")}`);
    const rows: Row[] = [];
    const stateFacts: Record<string, unknown> = {};
    const started = new Date().toISOString();
    try {
        for (let runNo = 1; runNo <= runs; runNo++) {
            for (const name of names) {
                try {
                    const sc = SCENARIOS[name];
                    await forceClean(pg);
                    const project = new PulumiProject(
                        path.join(work, `${name}-${runNo}`),
                        { name, description: sc.what, args: sc.args ?? [], env: sc.env ?? {} },
                        pg,
                        sc.prepare,
                    );
                    await project.init();
                    await project.configure(apps, { maxConnections, provisioningConnections: sc.pool });
                    PulumiProject.hangGuardSec = sc.guardSec ?? 900;
                    const measure = async (phase: Phase, fn: () => ReturnType<PulumiProject["up"]>) => {
                        const { result, sample } = await sampled(pg, fn);
                        let changes: Record<string, number> = {};
                        if (phase === "preview") changes = PulumiProject.changeSummary(result);
                        else if (result.code === 0) changes = await project.lastChanges().catch(() => ({}));
                        rows.push({
                            scenario: name,
                            run: runNo,
                            phase,
                            seconds: result.seconds,
                            cpuSeconds: result.cpuSeconds,
                            loadAvg: result.loadAvg,
                            timedOut: result.timedOut,
                            exitCode: result.code,
                            changes,
                            sample,
                        });
                        log(
                            `${name} ${phase}: ${result.seconds.toFixed(2)} s (cpu ${result.cpuSeconds?.toFixed(1) ?? "?"} s, load ${result.loadAvg}) exit ${result.code}${result.timedOut ? " HUNG, killed" : ""} ${JSON.stringify(changes)}; ` +
                                `peak ${sample.connections} conns (lock waiters ${sample.lockWaiters}, idle in tx ${sample.idleInTransaction}) ${JSON.stringify(sample.byApplication)}; RSS ${(sample.rssTotalKiB / 1024).toFixed(0)} MiB`,
                        );
                        return result;
                    };
                    const phases = sc.phases ?? ALL;
                    const create = await measure("create", () => project.up(sc.upArgs ?? [], {}, false));
                    if (create.code !== 0) {
                        log(`${name}: create failed or hung; see ${project.logFile}; skipping its other phases`);
                        await forceClean(pg);
                        continue;
                    }
                    const diffs = compareCatalogs(expectedCatalog(apps), await snapshot(pg));
                    log(`${name}: catalog after create ${diffs.length === 0 ? "PASS" : "FAIL " + diffs.slice(0, 3).join("; ")}`);
                    const facts = await project.stateFacts().catch(() => undefined);
                    if (facts) {
                        stateFacts[name] = facts;
                        log(`${name}: state after create ${JSON.stringify(facts)}`);
                    }
                    if (phases.includes("preview")) await measure("preview", () => project.preview([], {}, false));
                    if (phases.includes("noop")) await measure("noop", () => project.up(sc.upArgs ?? [], {}, false));
                    if (phases.includes("refresh")) await measure("refresh", () => project.up(["--refresh"], {}, false));
                    if (phases.includes("change")) {
                        await project.configure(changed, { maxConnections, provisioningConnections: sc.pool });
                        await measure("change", () => project.up(sc.upArgs ?? [], {}, false));
                    }
                    if (phases.includes("destroy")) await measure("destroy", () => project.destroy([], {}, false));
                } catch (err) {
                    log(`${name} failed: ${err instanceof Error ? err.message : String(err)}; going on with the next scenario`);
                    await forceClean(pg).catch(() => undefined);
                }
            }
        }
    } finally {
        await cluster.stop();
    }

    // Medians per scenario and phase.
    const lines: string[] = [`# Where the time goes: N=${n}, ${runs} run(s), ${started}`, ""];
    const phasesSeen: Phase[] = ["create", "preview", "noop", "refresh", "change", "destroy"];
    lines.push(
        "| scenario | " +
            phasesSeen.join(" s | ") +
            " s | create cpu s | create cpu by process | create peak conns (lock waiters) | create peak RSS MiB | what |",
    );
    lines.push("|" + "---|".repeat(phasesSeen.length + 6));
    for (const name of names) {
        const of = (ph: Phase) => rows.filter((r) => r.scenario === name && r.phase === ph);
        const cell = (ph: Phase) => {
            const rs = of(ph);
            if (rs.length === 0) return "–";
            if (rs.some((r) => r.timedOut)) return `HUNG (killed at ${Math.round(Math.max(...rs.map((r) => r.seconds)))} s)`;
            if (rs.some((r) => r.exitCode !== 0)) return `failed (${rs.find((r) => r.exitCode !== 0)!.exitCode})`;
            return median(rs.map((r) => r.seconds))!.toFixed(2);
        };
        const c = of("create");
        lines.push(
            `| ${name} | ${phasesSeen.map(cell).join(" | ")} | ${median(c.map((r) => r.cpuSeconds ?? NaN))?.toFixed(1) ?? "–"} | ` +
                `${
                    c[0]
                        ? Object.entries(c[0].sample.cpuSeconds ?? {})
                              .filter(([, v]) => v >= 0.1)
                              .sort((a, b) => b[1] - a[1])
                              .map(([k, v]) => `${k} ${v.toFixed(1)}`)
                              .join(", ")
                        : "–"
                } | ` +
                `${median(c.map((r) => r.sample.connections)) ?? "–"} (${median(c.map((r) => r.sample.lockWaiters)) ?? "–"}) | ` +
                `${median(c.map((r) => r.sample.rssTotalKiB / 1024))?.toFixed(0) ?? "–"} | ${SCENARIOS[name].what} |`,
        );
    }
    const text = lines.join("\n") + "\n";
    process.stdout.write("\n" + text);
    const resultsDir = path.join(BENCH_DIR, "results");
    fs.mkdirSync(resultsDir, { recursive: true });
    const json = JSON.stringify(
        {
            started,
            n,
            runs,
            maxConnections,
            program: PulumiProject.source,
            scenarios: names.map((s) => ({ ...SCENARIOS[s], prepare: SCENARIOS[s].prepare?.name })),
            stateFacts,
            rows,
        },
        null,
        2,
    );
    fs.mkdirSync(path.join(resultsDir, "archive"), { recursive: true });
    fs.writeFileSync(path.join(resultsDir, "archive", `explore-${stamp}.json`), json);
    fs.writeFileSync(path.join(resultsDir, "explore-latest.json"), json);
    fs.writeFileSync(path.join(resultsDir, "archive", `explore-${stamp}.md`), text);
    fs.writeFileSync(path.join(resultsDir, "explore-latest.md"), text);
    log(`results in ${resultsDir}/explore-latest.{json,md} and archive/explore-${stamp}.{json,md}; logs in ${work}`);
}

main().catch((err) => {
    log(`explore failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
});
