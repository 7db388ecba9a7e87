// app-databases: every application gets its own PostgreSQL database, roles and passwords.
// Config is read once and validated as a whole; budgets are checked and the shared
// servers are reached (preflight) before any resource is declared.
import * as pulumi from "@pulumi/pulumi";
import { BudgetError } from "./components";
import { ConfigError, parseStackConfig, StackConfig } from "./program/config";
import { preflight } from "./program/preflight";
import { checkBudgets, declareStack } from "./program/stack";

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

/** Parses and budget-checks config; errors become clean messages without a stack trace. */
function validConfig(): StackConfig {
    try {
        const config = parseStackConfig(readRawConfig());
        checkBudgets(config);
        return config;
    } catch (err) {
        if (err instanceof ConfigError || err instanceof BudgetError) throw new pulumi.RunError(err.message);
        throw err;
    }
}

export = async () => {
    const config = validConfig();
    if (config.preflight) {
        const problems = await preflight(config.servers);
        if (problems.length > 0) {
            throw new pulumi.RunError(`Preflight failed; nothing was applied:\n  - ${problems.join("\n  - ")}`);
        }
    }
    const { apps, budgets, pgHba } = declareStack(config);
    return { apps, budgets, pgHba };
};
