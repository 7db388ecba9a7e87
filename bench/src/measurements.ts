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
    phase: "create" | "preview" | "noop" | "change" | "destroy";
    seconds: number;
    /** user + system CPU seconds of the command's process tree (GNU time), load-independent. */
    cpuSeconds: number | null;
    /** 1-minute load average when it started: other work on the machine inflates wall time. */
    loadAvg: number;
    /** Resource changes (Pulumi history / preview summary) or Ansible's changed count. */
    changes: Record<string, number>;
    sample: SampleSummary;
}

export interface CatalogCheck {
    tool: string;
    n: number;
    run: number;
    stage: "create" | "change";
    pass: boolean;
    diffs: string[];
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
