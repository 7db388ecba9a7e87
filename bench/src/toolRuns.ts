/**
 * One run of each tool at one N: its measured phases, each with a sampler
 * around it, and its checks (bench/src/checks.ts), recorded however the run ends.
 */
import { AppSpec, forceClean, isEmpty, snapshot } from "./catalog";
import { catalogDiffs, changeInPlaceProblems, changesOf, CHECK, errorText, Login, loginProblems, loginRoles, RunChecks } from "./checks";
import type { Check, Measurement, StateFacts } from "./measurements";
import { AnsibleTool, SqlTool } from "./otherTools";
import { PulumiProject } from "./pulumiTool";
import { calibrate, log, PgTarget, RunResult, sampled } from "./util";

/** One N on its own server. */
export interface SizeSetup {
    readonly n: number;
    readonly pg: PgTarget;
    /** The apps of the first up, and the same with app001's limit changed. */
    readonly apps: readonly AppSpec[];
    readonly changed: readonly AppSpec[];
    readonly maxConnections: number;
    /** provisioningConnections in the stack config; undefined: the program's default. */
    readonly provisioningConnections?: number;
    /**
     * No-op previews per Pulumi run, one after another, each measured and
     * checked (0 changes, connections): a single one at N=100 rests on whatever
     * the machine was doing in those seconds. @default 1
     */
    readonly previews?: number;
}

type NoOpPhase = "preview" | "noop" | "refresh" | "paired-preview";

/** A no-op phase's check: its changes say nothing but `same`. */
function recordNoChanges(rc: RunChecks, phase: NoOpPhase, m: Measurement): void {
    rc.record(CHECK.noChanges(phase), Object.keys(m.changes).length > 0 && changesOf(m.changes).length === 0, [JSON.stringify(m.changes)]);
}

/** A phase's connection check: the most sessions sampled, against the pool the stack's budget reserves. */
function recordConnections(rc: RunChecks, m: Measurement, pool: number | undefined): void {
    const max = m.sample.connections;
    m.pool = pool;
    const verdict = pool === undefined ? "(no reserved pool in the stack's budgets output)" : max <= pool ? `<= ${pool}` : `> ${pool}`;
    rc.record(CHECK.connections(m.phase), pool !== undefined && max <= pool, [
        `max ${max} ${verdict} ${JSON.stringify(m.sample.connectionsAt?.byApplication ?? {})}`,
    ]);
}

export class SizeRun {
    constructor(
        readonly setup: SizeSetup,
        private readonly measurements: Measurement[],
        private readonly checks: Check[],
        private readonly facts: StateFacts[],
    ) {}

    /** Runs `fn` with a sampler around it and records the measurement. */
    private async measure(
        tool: string,
        runNo: number,
        phase: Measurement["phase"],
        fn: () => Promise<{ r: RunResult; changes: Record<string, number> }>,
    ): Promise<Measurement> {
        const { result, sample } = await sampled(this.setup.pg, fn);
        const { r, changes } = result;
        const m: Measurement = {
            tool,
            n: this.setup.n,
            run: runNo,
            phase,
            seconds: r.seconds,
            cpuSeconds: r.cpuSeconds,
            loadAvg: r.loadAvg,
            changes,
            sample,
        };
        this.measurements.push(m);
        log(
            `${tool} N=${this.setup.n} run ${runNo} ${phase}: ${r.seconds.toFixed(2)} s (cpu ${r.cpuSeconds?.toFixed(1) ?? "?"} s, load ${r.loadAvg}); ` +
                `peak ${sample.connections} conns ${JSON.stringify(sample.byApplication)}, RSS ${(sample.rssTotalKiB / 1024).toFixed(0)} MiB`,
        );
        return m;
    }

    /** One run of one tool: a clean server first, then its body; "run completed" and the missing checks recorded however it ends. */
    private async toolRun(tool: string, runNo: number, body: (rc: RunChecks) => Promise<void>): Promise<void> {
        const { n, pg } = this.setup;
        const rc = new RunChecks(this.checks, tool, n, runNo, (c) =>
            log(`check ${tool} N=${n} run ${runNo} ${c.name}: ${c.pass ? "PASS" : "FAIL\n  " + c.details.join("\n  ")}`),
        );
        try {
            const left = await snapshot(pg);
            if (!isEmpty(left)) {
                log(
                    `WARNING: before ${tool}, the server still has ${left.roles.length} roles and ${left.databases.length} databases; dropping them`,
                );
                await forceClean(pg);
            }
            await body(rc);
            rc.finish();
        } catch (err) {
            log(`${tool} N=${n} run ${runNo} stopped: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
            rc.finish(err);
        }
    }

    private async catalog(rc: RunChecks, stage: "create" | "change", specs: readonly AppSpec[]): Promise<void> {
        const diffs = catalogDiffs(specs, await snapshot(this.setup.pg));
        rc.record(CHECK.catalog(stage), diffs.length === 0, diffs);
    }

    private async emptied(rc: RunChecks): Promise<void> {
        const left = await snapshot(this.setup.pg);
        rc.record(CHECK.empty, isEmpty(left), [
            ...left.roles.map((r) => `role ${r.name} left`),
            ...left.databases.map((d) => `database ${d.name} left`),
        ]);
    }

    private async logins(rc: RunChecks, stage: "create" | "change", list: readonly Login[]): Promise<void> {
        const problems = await loginProblems(this.setup.pg, list, loginRoles(this.setup.apps));
        rc.record(CHECK.logins(stage), problems.length === 0, problems.length ? problems : [`${list.length} logins`]);
    }

    /**
     * The program: plain up, no-op preview / up / up --refresh, one limit changed, destroy.
     * A peer (the hand-written @pulumi/postgresql program) runs the same phases and checks, but
     * has no budget: its connections are measured, not checked against a reserved pool.
     */
    async pulumi(tool: string, p: PulumiProject, runNo: number, peer = false): Promise<void> {
        const { n, apps, changed, maxConnections, provisioningConnections } = this.setup;
        await this.toolRun(tool, runNo, async (rc) => {
            const up = (phase: Measurement["phase"], args: string[] = []) =>
                this.measure(tool, runNo, phase, async () => ({ r: await p.up(args), changes: {} }));
            const history = async (m: Measurement) => (m.changes = await p.lastChanges());
            const noChanges = (phase: NoOpPhase, m: Measurement) => recordNoChanges(rc, phase, m);

            await p.configure(apps, { maxConnections, provisioningConnections });
            const create = await up("create");
            await history(create);
            // The pool the stack's budget reserves for the tool, as the program computes it.
            const pool = peer ? undefined : await p.reservedPool();
            const connections = (m: Measurement) => (peer ? undefined : recordConnections(rc, m, pool));
            connections(create);
            await this.catalog(rc, "create", apps);
            await this.logins(rc, "create", await p.logins());
            if (runNo === 1) this.facts.push({ tool, n, ...(await p.stateFacts()) });

            const calibration = await calibrate();
            for (let i = 0; i < (this.setup.previews ?? 1); i++) {
                const preview = await this.measure(tool, runNo, "preview", async () => {
                    const r = await p.preview();
                    return { r, changes: PulumiProject.changeSummary(r) };
                });
                if (calibration !== null) preview.calibrationCpuSeconds = calibration;
                connections(preview);
                noChanges("preview", preview);
            }
            for (const [phase, args] of [
                ["noop", []],
                ["refresh", ["--refresh"]],
            ] as const) {
                const m = await up(phase, [...args]);
                await history(m);
                connections(m);
                noChanges(phase, m);
            }

            await p.configure(changed, { maxConnections, provisioningConnections });
            const change = await up("change");
            await history(change);
            connections(change);
            const notInPlace = changeInPlaceProblems(change.changes);
            rc.record(CHECK.changeApplied, notInPlace.length === 0, [JSON.stringify(change.changes), ...notInPlace]);
            await this.catalog(rc, "change", changed);
            await this.logins(rc, "change", await p.logins());

            const destroy = await this.measure(tool, runNo, "destroy", async () => ({ r: await p.destroy(), changes: {} }));
            await history(destroy);
            connections(destroy);
            await this.emptied(rc);
        });
    }

    /**
     * One paired preview (main.ts, pairedPreviews): a no-op preview of a stack
     * that stays up between pairs, checked for 0 changes and for the connections
     * against the pool its budget reserves. Nothing is cleaned up here.
     */
    async pairedPreview(tool: string, p: PulumiProject, pair: number, pool: number | undefined): Promise<void> {
        const { n } = this.setup;
        const rc = new RunChecks(this.checks, tool, n, pair, (c) =>
            log(`check ${tool} N=${n} pair ${pair} ${c.name}: ${c.pass ? "PASS" : "FAIL\n  " + c.details.join("\n  ")}`),
        );
        try {
            const m = await this.measure(tool, pair, "paired-preview", async () => {
                const r = await p.preview();
                return { r, changes: PulumiProject.changeSummary(r) };
            });
            recordNoChanges(rc, "paired-preview", m);
            recordConnections(rc, m, pool);
        } catch (err) {
            log(`${tool} N=${n} pair ${pair} stopped: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
            rc.record(CHECK.noChanges("paired-preview"), false, [errorText(err)]);
        }
    }

    /** The playbook: first run, no-op re-run, the same limit change, removal. */
    async ansible(ansible: AnsibleTool, runNo: number): Promise<void> {
        const { apps, changed } = this.setup;
        await this.toolRun("ansible", runNo, async (rc) => {
            const play = (phase: Measurement["phase"], book: "apps.yml" | "remove.yml", a: readonly AppSpec[]) =>
                this.measure("ansible", runNo, phase, async () => {
                    const r = await ansible.play(book, a);
                    const changes: Record<string, number> = { changed: r.changed, ok: r.ok };
                    if (r.recapChanged !== null) changes.recapChanged = r.recapChanged;
                    return { r, changes };
                });
            await play("create", "apps.yml", apps);
            await this.catalog(rc, "create", apps);
            await this.logins(rc, "create", ansible.passwords.logins(apps));
            const noop = await play("noop", "apps.yml", apps);
            rc.record(CHECK.noChanges("noop"), noop.changes.changed === 0 && noop.changes.recapChanged === 0, [
                `changed items ${noop.changes.changed}, PLAY RECAP changed=${noop.changes.recapChanged ?? "(no recap)"}`,
            ]);
            const change = await play("change", "apps.yml", changed);
            rc.record(CHECK.changeApplied, change.changes.changed > 0, [`changed items ${change.changes.changed}`]);
            await this.catalog(rc, "change", changed);
            await this.logins(rc, "change", ansible.passwords.logins(changed));
            await play("destroy", "remove.yml", changed);
            await this.emptied(rc);
        });
    }

    /** One psql run to create, one to drop: the floor. */
    async sql(sql: SqlTool, runNo: number): Promise<void> {
        const { apps } = this.setup;
        await this.toolRun("sql", runNo, async (rc) => {
            await this.measure("sql", runNo, "create", async () => ({ r: await sql.psql("create", sql.createSql(apps)), changes: {} }));
            await this.catalog(rc, "create", apps);
            await this.logins(rc, "create", sql.passwords.logins(apps));
            await this.measure("sql", runNo, "destroy", async () => ({ r: await sql.psql("drop", SqlTool.dropSql(apps)), changes: {} }));
            await this.emptied(rc);
        });
    }
}
