/** Small helpers: timed child processes, the sampler, medians, logging. */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const BENCH_DIR = path.resolve(__dirname, "..");
export const REPO_ROOT = path.resolve(BENCH_DIR, "..");

const t0 = Date.now();
export function log(msg: string): void {
    const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(7);
    process.stderr.write(`[bench ${s}s] ${msg}\n`);
}

export interface RunResult {
    readonly seconds: number;
    /** user + system CPU seconds of the command and the descendants it waited for (GNU time). */
    readonly cpuSeconds: number | null;
    /** Killed by the hang guard (timeoutSec). */
    readonly timedOut: boolean;
    /** 1-minute load average when the command started (other work on the machine skews times). */
    readonly loadAvg: number;
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

export interface RunOptions {
    readonly cwd?: string;
    readonly env?: NodeJS.ProcessEnv;
    /** Appends the command, its output and its time here. */
    readonly logFile?: string;
    /** Fail (throw) on a non-zero exit. @default true */
    readonly check?: boolean;
    /** Hang guard: kill the command's process group after this many seconds (0: never). @default 0 */
    readonly timeoutSec?: number;
    /** Strings replaced by *** in the log (passwords). */
    readonly redact?: readonly string[];
    /** Wrap in /usr/bin/time to count the CPU seconds of the command's process tree. @default false */
    readonly cpu?: boolean;
}

const HAVE_GNU_TIME = fs.existsSync("/usr/bin/time");

/** Every descendant of `root`, from /proc (children before their parent dies and they are re-parented). */
export function descendants(root: number): number[] {
    const children = new Map<number, number[]>();
    for (const name of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(name)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            if (!children.has(ppid)) children.set(ppid, []);
            children.get(ppid)!.push(Number(name));
        } catch {
            // gone already
        }
    }
    const out: number[] = [];
    const stack = [...(children.get(root) ?? [])];
    while (stack.length) {
        const pid = stack.pop()!;
        out.push(pid);
        stack.push(...(children.get(pid) ?? []));
    }
    return out;
}

export function loadAvg(): number {
    try {
        return Number(fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
    } catch {
        return NaN;
    }
}

/** Runs a command to completion; the time is wall time from spawn to exit. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const timeFile = opts.cpu && HAVE_GNU_TIME ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-time-")), "t") : "";
        const [exe, argv] = timeFile ? ["/usr/bin/time", ["-f", "%U %S", "-o", timeFile, cmd, ...args]] : [cmd, [...args]];
        const load = loadAvg();
        const started = process.hrtime.bigint();
        // Its own process group, so the hang guard can end the command and everything it started.
        const child = spawn(exe, argv, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
        let timedOut = false;
        const guard =
            opts.timeoutSec && opts.timeoutSec > 0
                ? setTimeout(() => {
                      timedOut = true;
                      log(
                          `hang guard: ${cmd} ${args.slice(0, 2).join(" ")} still running after ${opts.timeoutSec} s; killing its process group ${child.pid}`,
                      );
                      // Plugins run in process groups of their own: end every descendant by its pid, then the group.
                      for (const pid of [...descendants(child.pid!), child.pid!]) {
                          try {
                              process.kill(pid, "SIGKILL");
                          } catch {
                              // gone already
                          }
                      }
                      try {
                          process.kill(-child.pid!, "SIGKILL");
                      } catch {
                          // gone already
                      }
                  }, opts.timeoutSec * 1000)
                : undefined;
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on("data", (b: Buffer) => out.push(b));
        child.stderr.on("data", (b: Buffer) => err.push(b));
        child.on("error", reject);
        child.on("close", (code) => {
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            if (guard) clearTimeout(guard);
            let cpuSeconds: number | null = null;
            if (timeFile) {
                try {
                    const lastLine = fs.readFileSync(timeFile, "utf8").trim().split("\n").pop()!;
                    const [u, sys] = lastLine.split(" ").map(Number);
                    if (Number.isFinite(u) && Number.isFinite(sys)) cpuSeconds = u + sys;
                } catch {
                    // no figure
                }
                fs.rmSync(path.dirname(timeFile), { recursive: true, force: true });
            }
            const result = {
                seconds,
                cpuSeconds,
                timedOut,
                loadAvg: load,
                code: code ?? -1,
                stdout: Buffer.concat(out).toString("utf8"),
                stderr: Buffer.concat(err).toString("utf8"),
            };
            if (opts.logFile) {
                let entry = `\n$ ${cmd} ${args.join(" ")}\n# exit ${result.code} in ${seconds.toFixed(2)} s, cpu ${cpuSeconds?.toFixed(2) ?? "?"} s, load ${load}${timedOut ? ", KILLED by the hang guard" : ""}\n${result.stdout}${result.stderr ? "\n[stderr]\n" + result.stderr : ""}\n`;
                for (const secret of opts.redact ?? []) if (secret) entry = entry.split(secret).join("***");
                fs.appendFileSync(opts.logFile, entry);
            }
            if (code !== 0 && opts.check !== false) {
                reject(
                    new Error(
                        `${cmd} ${args.join(" ")} ${timedOut ? `killed by the hang guard after ${opts.timeoutSec} s` : `exited ${code}`}` +
                            `${opts.logFile ? ` (log: ${opts.logFile})` : ""}:\n${tail(result.stderr || result.stdout, 40)}`,
                    ),
                );
            } else {
                resolve(result);
            }
        });
    });
}

export function tail(text: string, lines: number): string {
    return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export interface PgTarget {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
}

/** What the sampler saw during one measured command. */
export interface SampleSummary {
    /** Peak number of admin-user sessions (the sampler's own excluded). */
    readonly connections: number;
    readonly connectionsAt: { byApplication: Record<string, number>; databases: number; atMs: number } | null;
    readonly byApplication: Record<string, number>;
    readonly distinctDatabases: number;
    readonly lockWaiters: number;
    readonly idleInTransaction: number;
    /** Peak summed RSS per kind of process, KiB. */
    readonly rssKiB: Record<string, number>;
    readonly rssTotalKiB: number;
    readonly processes: Record<string, number>;
    /** CPU seconds per kind of process, from /proc/<pid>/stat at each process's last sample. */
    readonly cpuSeconds: Record<string, number>;
    readonly ticks: number;
    readonly durationMs: number;
    readonly intervalMs: number;
    readonly pgErrors: number;
    readonly lastPgError: string;
}

/** A sampler process (bench/src/sampler.js) for one measured command. */
export class Sampler {
    private constructor(
        private readonly child: ReturnType<typeof spawn>,
        private readonly done: Promise<string>,
    ) {}

    static async start(pg: PgTarget, intervalMs = 100): Promise<Sampler> {
        const child = spawn(process.execPath, [path.join(BENCH_DIR, "src", "sampler.js"), String(process.pid), String(intervalMs)], {
            env: {
                ...process.env,
                PGHOST: pg.host,
                PGPORT: String(pg.port),
                PGUSER: pg.user,
                PGPASSWORD: pg.password,
                PGDATABASE: "postgres",
            },
            stdio: ["pipe", "pipe", "pipe"],
        });
        let stdout = "";
        child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
        const done = new Promise<string>((resolve) => child.on("close", () => resolve(stdout)));
        await new Promise<void>((resolve, reject) => {
            let err = "";
            const onData = (b: Buffer) => {
                err += b.toString();
                if (err.includes("sampler ready")) {
                    child.stderr.off("data", onData);
                    resolve();
                }
            };
            child.stderr.on("data", onData);
            child.on("error", reject);
            child.on("close", (code) => reject(new Error(`sampler exited ${code}: ${err}`)));
        });
        return new Sampler(child, done);
    }

    async stop(): Promise<SampleSummary> {
        this.child.kill("SIGTERM");
        const text = await this.done;
        return JSON.parse(text.trim().split("\n").pop()!) as SampleSummary;
    }
}

/** Runs `fn` with a sampler around it. */
export async function sampled<T>(pg: PgTarget, fn: () => Promise<T>): Promise<{ result: T; sample: SampleSummary }> {
    const sampler = await Sampler.start(pg);
    try {
        const result = await fn();
        return { result, sample: await sampler.stop() };
    } catch (err) {
        await sampler.stop().catch(() => undefined);
        throw err;
    }
}

export function median(values: readonly number[]): number | null {
    const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
    if (v.length === 0) return null;
    const mid = Math.floor(v.length / 2);
    return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export const pad3 = (i: number) => String(i).padStart(3, "0");

/** `app001` .. `appNNN`. */
export function appNames(n: number): string[] {
    return Array.from({ length: n }, (_, i) => `app${pad3(i + 1)}`);
}

/**
 * A fixed single-threaded workload (JSON and hashing in V8, about half a
 * second of CPU on a quiet core). Its CPU seconds move with how fast this
 * shared machine runs at that moment, not with anything under test.
 */
const CALIBRATION_JS =
    'const c = require("crypto"); let o = { a: [...Array(3000).keys()].map((i) => ({ i, s: "x" + i })) }; ' +
    'for (let k = 0; k < 160; k++) { const t = JSON.stringify(o); o = JSON.parse(t); c.createHash("sha256").update(t).digest("hex"); }';

/** CPU seconds of the calibration workload, median of 3 runs. */
export async function calibrate(): Promise<number | null> {
    const cpu: number[] = [];
    for (let i = 0; i < 3; i++) {
        const r = await run(process.execPath, ["-e", CALIBRATION_JS], { cpu: true });
        if (r.cpuSeconds !== null) cpu.push(r.cpuSeconds);
    }
    return median(cpu);
}
