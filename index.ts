// app-databases: every application gets its own PostgreSQL database, roles and passwords.
// Config is read once, validated as a whole, and budget-checked before any resource exists.
import * as pulumi from "@pulumi/pulumi";
import { BudgetError, ConfigError, declareStack, parseStackConfig, StackOutputs } from "./components";

const CONFIG_KEYS = ["servers", "apps", "protect", "placement", "dedicated"] as const;

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

function main(): StackOutputs {
    try {
        return declareStack(parseStackConfig(readRawConfig()));
    } catch (err) {
        // A clean message, no stack trace: the user fixes config, not code.
        if (err instanceof ConfigError || err instanceof BudgetError) throw new pulumi.RunError(err.message);
        throw err;
    }
}

const stack = main();
export const apps = stack.apps;
export const budgets = stack.budgets;
