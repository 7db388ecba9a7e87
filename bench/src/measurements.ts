/**
 * What one benchmark run records: the timings, the end-state checks and the
 * state facts, written by main.ts and rendered by report.ts.
 */
import { SampleSummary } from "./util";

export interface Measurement {
    /** `pulumi` (default variant), `pulumi:<variant>` (`pulumi:before`: --baseline), `ansible` or `sql`. */
    tool: string;
    n: number;
    run: number;
    /**
     * `paired-preview`: a no-op preview of the N=10 or N=100 stack while both are up,
     * the two taken in turn (main.ts, pairedPreviews); `run` is the pair's number.
     */
    phase: "create" | "preview" | "noop" | "refresh" | "change" | "destroy" | "paired-preview";
    seconds: number;
    /** user + system CPU seconds of the command's process tree (GNU time), load-independent. */
    cpuSeconds: number | null;
    /** 1-minute load average when it started: other work on the machine inflates wall time. */
    loadAvg: number;
    /** Resource changes (Pulumi history / preview summary) or Ansible's changed count. */
    changes: Record<string, number>;
    sample: SampleSummary;
    /**
     * No-op previews: CPU seconds of a fixed workload (util.ts calibrate) run
     * just before the run's previews, to tell a slow stretch of the machine from
     * a slow program when previews at different N are compared.
     */
    calibrationCpuSeconds?: number;
    /** Pulumi: the sessions the stack's budget reserves for the provisioning tool (its `budgets` output), when read. */
    pool?: number;
}

/** One correctness check of one tool's run (bench/src/checks.ts names them). */
export interface Check {
    tool: string;
    n: number;
    run: number;
    /** e.g. `catalog after create`, `noop: 0 changes`, `destroy: connections within the reserved pool`. */
    name: string;
    pass: boolean;
    /** What was found: differences, counts, errors (never a password). */
    details: string[];
}

export interface StateFacts {
    tool: string;
    n: number;
    resources: number;
    perApp: number;
    perAppCustom: number;
    stateBytes: number;
    dynamicProviderBytes: number;
}
