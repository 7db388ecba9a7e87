/**
 * The GitHub Actions workflows: actionlint finds nothing, no secret value is
 * written into them, and a prod `pulumi up` cannot run without the approval of
 * the `production` environment.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const WORKFLOWS_DIR = path.join(ROOT, ".github", "workflows");

// js-yaml comes with @pulumi/pulumi (its automation API reads stack files);
// resolved from there so this test adds no dependency of its own.
const pulumiRequire = createRequire(createRequire(path.join(ROOT, "package.json")).resolve("@pulumi/pulumi/package.json"));
const yaml = pulumiRequire("js-yaml") as { load(text: string): unknown };

type Dict = Record<string, any>;

interface Workflow {
    readonly file: string;
    readonly text: string;
    readonly doc: Dict;
}

function workflows(): Workflow[] {
    return fs
        .readdirSync(WORKFLOWS_DIR)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
        .map((file) => {
            const text = fs.readFileSync(path.join(WORKFLOWS_DIR, file), "utf8");
            return { file, text, doc: yaml.load(text) as Dict };
        });
}

function workflow(file: string): Workflow {
    const found = workflows().find((w) => w.file === file);
    if (!found) throw new Error(`.github/workflows/${file} is missing`);
    return found;
}

const jobsOf = (w: Workflow): [string, Dict][] => Object.entries((w.doc.jobs ?? {}) as Dict);
const stepsOf = (job: Dict): Dict[] => (job.steps ?? []) as Dict[];
const isPulumiAction = (step: Dict) => typeof step.uses === "string" && step.uses.startsWith("pulumi/actions@");

/** The stacks a step's `stack-name` can take: a literal, or every value of the matrix key it names. */
function stacksOf(job: Dict, stackName: unknown): string[] {
    const text = typeof stackName === "string" ? stackName : "";
    const m = /^\$\{\{\s*matrix\.([A-Za-z_][\w-]*)\s*\}\}$/.exec(text);
    if (!m) return [text];
    const values = job.strategy?.matrix?.[m[1]];
    if (!Array.isArray(values)) throw new Error(`matrix.${m[1]} is not a list`);
    return values.map(String);
}

/** Every `pulumi up` a job can run, with the stacks it targets. */
function upsOf(job: Dict): string[] {
    const stacks: string[] = [];
    for (const step of stepsOf(job)) {
        if (isPulumiAction(step) && ["up", "update"].includes(String(step.with?.command))) {
            stacks.push(...stacksOf(job, step.with?.["stack-name"]));
        }
        if (typeof step.run === "string" && /\bpulumi\s+(up|update)\b/.test(step.run)) {
            // A hand-written up: assume it may target prod unless it names dev only.
            stacks.push(/--stack[= ]+dev\b|-s\s+dev\b/.test(step.run) ? "dev" : "prod");
        }
    }
    return stacks;
}

const environmentName = (job: Dict): string | undefined => (typeof job.environment === "string" ? job.environment : job.environment?.name);

/** Every key/value of `env:` and `with:` maps anywhere in a workflow. */
function settings(doc: Dict): [string, unknown][] {
    const found: [string, unknown][] = [];
    const walk = (node: unknown) => {
        if (Array.isArray(node)) node.forEach(walk);
        else if (node && typeof node === "object") {
            for (const [k, v] of Object.entries(node as Dict)) {
                if ((k === "env" || k === "with") && v && typeof v === "object") found.push(...Object.entries(v as Dict));
                walk(v);
            }
        }
    };
    walk(doc);
    return found;
}

describe("GitHub Actions workflows", () => {
    it("pass actionlint", () => {
        // The first run on a machine builds actionlint (cached outside the repo); later runs take well under a second.
        const result = spawnSync("bash", [path.join(ROOT, "scripts", "actionlint.sh")], { cwd: ROOT, encoding: "utf8" });
        const report = `${result.stdout}\n${result.stderr}`;
        if (result.status !== 0) console.error(report);
        expect(result.error, report).toBeUndefined();
        expect(result.status, report).toBe(0);
    }, 300_000);

    it("are a preview workflow, a deploy workflow and a drift workflow", () => {
        expect(workflows().map((w) => w.file)).toEqual(["deploy.yml", "drift.yml", "preview.yml"]);
    });

    it("check both stacks for drift on a schedule with a refreshed preview that expects no changes", () => {
        const w = workflow("drift.yml");
        expect(Object.keys(w.doc.on).sort()).toEqual(["schedule", "workflow_dispatch"]);
        expect(w.doc.on.schedule[0].cron).toMatch(/^\S+ \S+ \S+ \S+ \S+$/);
        expect(w.doc.permissions).toEqual({ contents: "read" });
        const [[, job]] = jobsOf(w);
        expect(job.strategy["fail-fast"]).toBe(false);
        const previews = stepsOf(job).filter((s) => isPulumiAction(s));
        expect(previews).toHaveLength(1);
        expect(previews[0].with).toMatchObject({ command: "preview", refresh: true, "expect-no-changes": true, diff: true });
        expect(stacksOf(job, previews[0].with["stack-name"]).sort()).toEqual(["dev", "prod"]);
        expect(upsOf(job)).toEqual([]);
        // What drifted goes to the job summary; the access report follows.
        const runs = stepsOf(job).map((s) => String(s.run ?? ""));
        expect(runs.some((r) => r.includes("GITHUB_STEP_SUMMARY") && r.includes("$PREVIEW"))).toBe(true);
        expect(runs.some((r) => /npm run --silent report -- --stack "\$STACK"/.test(r))).toBe(true);
    });

    it("take every credential from ${{ secrets.* }} and write none inline", () => {
        const sensitiveKey = /(TOKEN|PASSPHRASE|PASSWORD|SECRET|BACKEND_URL|ACCESS_KEY|PRIVATE_KEY|^cloud-url$|^github-token$)/i;
        const fromSecret = /^\$\{\{\s*secrets\.[A-Za-z_][A-Za-z0-9_]*\s*\}\}$/;
        for (const w of workflows()) {
            const sensitive = settings(w.doc).filter(([k]) => sensitiveKey.test(k));
            expect(sensitive.length, w.file).toBeGreaterThan(0);
            for (const [key, value] of sensitive) {
                expect(String(value), `${w.file}: ${key}`).toMatch(fromSecret);
            }
            // No secret material in any form anywhere in the file.
            const leaks: [string, RegExp][] = [
                ["a Pulumi access token", /\bpul-[0-9a-f]{20,}/],
                ["a GitHub token", /\bgh[pousr]_[A-Za-z0-9]{20,}|github_pat_/],
                ["a URL with a password", /[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:[^\s/@]+@/i],
                ["a passphrase file", /PULUMI_CONFIG_PASSPHRASE_FILE/],
                ["a literal passphrase", /PULUMI_CONFIG_PASSPHRASE\s*[:=]\s*(?!\$\{\{\s*secrets\.)\S/],
            ];
            for (const [what, pattern] of leaks) expect(pattern.test(w.text), `${w.file} holds ${what}`).toBe(false);
            // Every secrets reference is an expression, never text that merely names one.
            for (const line of w.text.split("\n").filter((l) => /secrets\./.test(l) && !/^\s*#/.test(l))) {
                expect(line, w.file).toMatch(/\$\{\{[^}]*secrets\.[^}]*\}\}/);
            }
        }
    });

    it("pin every action to a major version tag", () => {
        for (const w of workflows()) {
            for (const [name, job] of jobsOf(w)) {
                for (const step of stepsOf(job).filter((s) => s.uses)) {
                    expect(step.uses, `${w.file} ${name}`).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
                }
            }
        }
    });

    it("preview both stacks on pull requests and comment the result, with least privilege", () => {
        const w = workflow("preview.yml");
        expect(Object.keys(w.doc.on)).toEqual(["pull_request"]);
        expect(w.doc.permissions).toEqual({ contents: "read", "pull-requests": "write" });
        const previews = jobsOf(w).flatMap(([, job]) =>
            stepsOf(job)
                .filter((s) => isPulumiAction(s) && s.with?.command === "preview")
                .map((s) => ({ job, step: s })),
        );
        expect(previews).toHaveLength(1);
        const { job, step } = previews[0];
        expect(stacksOf(job, step.with["stack-name"]).sort()).toEqual(["dev", "prod"]);
        expect(step.with["comment-on-pr"]).toBe(true);
        expect(step.with["github-token"]).toMatch(/secrets\.GITHUB_TOKEN/);
        expect(upsOf(job)).toEqual([]);
    });

    it("set up Node 20 and npm ci before every Pulumi step", () => {
        for (const w of workflows()) {
            for (const [name, job] of jobsOf(w)) {
                const steps = stepsOf(job);
                const pulumiAt = steps.findIndex(isPulumiAction);
                if (pulumiAt < 0) continue;
                const node = steps.findIndex((s) => String(s.uses).startsWith("actions/setup-node@"));
                const ci = steps.findIndex((s) => typeof s.run === "string" && /\bnpm ci\b/.test(s.run));
                expect(node, `${w.file} ${name}: setup-node`).toBeGreaterThanOrEqual(0);
                expect(String(steps[node].with?.["node-version"]), `${w.file} ${name}`).toMatch(/^20(\.|$)/);
                expect(ci, `${w.file} ${name}: npm ci`).toBeGreaterThan(node);
                expect(pulumiAt, `${w.file} ${name}`).toBeGreaterThan(ci);
            }
        }
    });

    it("deploy dev on push to main, then prod only behind the production environment", () => {
        const w = workflow("deploy.yml");
        expect(w.doc.on).toEqual({ push: { branches: ["main"] } });
        expect(w.doc.permissions).toEqual({ contents: "read" });
        const jobs = jobsOf(w);
        const devJobs = jobs.filter(([, job]) => upsOf(job).includes("dev")).map(([n]) => n);
        const prodJobs = jobs.filter(([, job]) => upsOf(job).includes("prod"));
        expect(devJobs).toHaveLength(1);
        expect(prodJobs).toHaveLength(1);
        for (const [name, job] of prodJobs) {
            expect(environmentName(job), `${name}: prod up needs the production environment's approval`).toBe("production");
            expect([job.needs].flat(), `${name} runs after dev`).toContain(devJobs[0]);
        }
    });

    it("never let two ups of one stack overlap", () => {
        for (const w of workflows()) {
            const groups = new Map<string, string>();
            for (const [name, job] of jobsOf(w)) {
                const stacks = upsOf(job);
                if (stacks.length === 0) continue;
                expect(stacks, `${w.file} ${name}: one stack per job`).toHaveLength(1);
                const group = String(job.concurrency?.group ?? "");
                expect(group, `${w.file} ${name}: concurrency group`).toContain(stacks[0]);
                expect(job.concurrency["cancel-in-progress"], `${w.file} ${name}: never cancel a running up`).toBe(false);
                expect(groups.has(group), `${w.file} ${name}: group shared with ${groups.get(group)}`).toBe(false);
                groups.set(group, name);
            }
        }
    });

    it("log in only to the backend URL from secrets", () => {
        for (const w of workflows()) {
            expect(w.text).not.toMatch(/PULUMI_BACKEND_URL\s*:\s*(?!\$\{\{)/);
            expect(w.text).not.toMatch(/pulumi login\s+\S/);
        }
    });
});
