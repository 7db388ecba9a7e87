// app-databases: every application gets its own PostgreSQL database, roles and passwords.
// Config is read once and validated as a whole; budgets are checked and the shared
// servers are reached (preflight) before any resource is declared.
import * as pulumi from "@pulumi/pulumi";
import {
    BudgetError,
    budgetsWithLiveRoles,
    checkBudgets,
    ConfigError,
    declareStack,
    LiveRole,
    parseStackConfig,
    preflight,
    previousConnections,
    readPreviousBudgets,
} from "./components";

const CONFIG_KEYS = ["servers", "apps", "protect", "placement", "dedicated", "retiredApps", "preflight"] as const;

/** Raw config values; read without pulumi.Config so secret paths do not warn, and re-marked secret downstream. */
function readRawConfig(): Record<string, unknown> {
    const project = pulumi.getProject();
    const raw: Record<string, unknown> = {};
    for (const key of CONFIG_KEYS) {
        const value = pulumi.runtime.getConfig(`${project}:${key}`);
        if (value === undefined) continue;
        try {
            raw[key] = JSON.parse(value);
        } catch {
            raw[key] = value; // a plain string; the schema says what was expected
        }
    }
    return raw;
}

/** Runs a check; config and budget errors become clean messages without a stack trace. */
function cleanly<T>(check: () => T): T {
    try {
        return check();
    } catch (err) {
        if (err instanceof ConfigError || err instanceof BudgetError) throw new pulumi.RunError(err.message);
        throw err;
    }
}

export = async () => {
    const config = cleanly(() => parseStackConfig(readRawConfig()));
    // What the budget said at the last up: the over-budget table marks what changed since.
    const lastUp = await readPreviousBudgets();
    const previous = previousConnections(lastUp);
    cleanly(() => checkBudgets(config, undefined, previous));
    let budgets = undefined;
    if (config.preflight) {
        const liveRoles: Record<string, LiveRole[]> = {};
        const problems = await preflight(config.servers, liveRoles);
        const live = budgetsWithLiveRoles(config, liveRoles, lastUp);
        problems.push(...live.configProblems);
        if (problems.length > 0) {
            throw new pulumi.RunError(`Preflight failed; nothing was applied:\n  - ${problems.join("\n  - ")}`);
        }
        for (const warning of live.warnings) void pulumi.log.warn(warning);
        cleanly(() => checkBudgets(config, live.args, previous));
        budgets = live.args;
    }
    const { apps, budgets: reports, pgHba, access } = declareStack(config, budgets);
    return { apps, budgets: reports, pgHba, access };
};
