// app-databases: every application gets its own PostgreSQL database, roles and passwords.
// Config is read once and validated as a whole; budgets are checked and the shared
// servers are reached (preflight) before any resource is declared.
import * as pulumi from "@pulumi/pulumi";
import { BudgetError } from "./components";
import { ConfigError, parseStackConfig, StackConfig } from "./program/config";
import { budgetsWithLiveRoles, previousBudgetsIn, previousConnections } from "./program/liveBudget";
import { readPreviousOutputs, STATE_LAYOUT, stateAtLastUp } from "./program/lastUp";
import { adoptionPlan, ServerAdoptionFacts, unadoptedExisting } from "./program/adoption";
import { LiveRole } from "./program/liveRoles";
import { preflight } from "./program/preflight";
import { keyedOutputs } from "./program/keyedOutputs";
import { dedicatedPreflight } from "./program/dedicatedPreflight";
import { checkBudgets, declareStack, stackIdentity } from "./program/stack";
import { DedicatedStateError } from "./program/dedicatedState";
import { absentDatabases, goneDatabaseProblems } from "./program/goneDatabases";
import { announceMoves, plannedMoves } from "./program/moves";
import { footprintOf, roleNamesOf } from "./program/footprint";

/**
 * Raw config values of every key in the project's namespace, known or not (the
 * schema names a misspelt one); read without pulumi.Config so secret paths do
 * not warn, and re-marked secret downstream.
 */
function readRawConfig(): Record<string, unknown> {
    const prefix = `${pulumi.getProject()}:`;
    const raw: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (!name.startsWith(prefix)) continue;
        const key = name.slice(prefix.length);
        // An emptied key (`apps:` with nothing under it, after removing the last app) is absent.
        if (value === undefined || value === "" || value === "null") continue;
        try {
            raw[key] = JSON.parse(value);
        } catch {
            raw[key] = value; // a plain string; the schema says what was expected
        }
    }
    return raw;
}

/**
 * Said under every refusal: the engine lists the stack's outputs with `-` when
 * the program stops before declaring them, which reads like a deletion.
 */
const OUTPUTS_UNCHANGED =
    "\nThe stack's outputs are unchanged (Pulumi lists them with '-' because the program stopped before declaring them).";

/**
 * A refusal the user reads as is. Without a stack: Pulumi's runtime formats the
 * stack of every uncaught error through the source maps even for a RunError,
 * whose stack it never shows, and that made a refused preview take three times
 * as long as a good one (measured: 17 s against 6 s; 3.4 s without the stack).
 */
function refusal(message: string): pulumi.RunError {
    const err = new pulumi.RunError(message + OUTPUTS_UNCHANGED);
    err.stack = undefined;
    return err;
}

/** The config, or a clean refusal listing every problem in it. */
function parsedConfig(): StackConfig {
    try {
        return parseStackConfig(readRawConfig());
    } catch (err) {
        if (err instanceof ConfigError) throw refusal(err.message);
        throw err;
    }
}

/**
 * The outputs of the last up: the budget there (to mark what changed in an
 * over-budget table, and to know the login roles this stack is dropping) and
 * the state layout it left (lastUp.ts). Read once, from the start.
 */
let lastUp: ReturnType<typeof readPreviousOutputs> | undefined;
const previousOutputs = () => (lastUp ??= readPreviousOutputs());
const previousBudgets = async () => previousBudgetsIn(await previousOutputs());

/** The refusal for an over-budget table, with the rows that changed since the last up marked. */
async function overBudget(err: BudgetError): Promise<pulumi.RunError> {
    return refusal(new BudgetError(err.reports, previousConnections(await previousBudgets())).message);
}

/** What a budget check finds over budget, or undefined when everything fits. */
function overBudgetIn(check: () => void): BudgetError | undefined {
    try {
        check();
        return undefined;
    } catch (err) {
        if (err instanceof BudgetError) return err;
        throw err;
    }
}

/** The `apps` output of the last up, by app name. */
const appsOf = (outputs: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> => {
    const apps = outputs?.apps;
    return apps !== null && typeof apps === "object" && !Array.isArray(apps) ? (apps as Record<string, unknown>) : {};
};

export = async () => {
    const config = parsedConfig();
    void previousOutputs();
    // Over budget on the config alone: with the servers' own roles it only gets worse,
    // so that fuller table is shown when the servers can be read.
    const overOnConfig = overBudgetIn(() => checkBudgets(config));
    if (overOnConfig && !config.preflight) throw await overBudget(overOnConfig);
    let budgets = undefined;
    const existing: Record<string, string[]> = {};
    if (config.preflight) {
        const liveRoles: Record<string, LiveRole[]> = {};
        const adoption: Record<string, ServerAdoptionFacts> = {};
        const apps = Object.values(config.apps);
        const [problems, dedicatedProblems] = await Promise.all([
            preflight(config.servers, liveRoles, apps, adoption),
            dedicatedPreflight(config, pulumi.getStack()),
        ]);
        problems.push(...dedicatedProblems);
        // The last up's outputs are read only when a protected stack's database is not on its server.
        if (absentDatabases(config, adoption).length > 0) problems.push(...goneDatabaseProblems(config, adoption, await previousOutputs()));
        const stack = stackIdentity();
        let live = budgetsWithLiveRoles(config, liveRoles, undefined, stack);
        // A role counted as unmanaged may be one the last up managed and this one drops.
        if (live.args.some((a) => a.serverRoles?.some((e) => e.kind === "unmanaged on server"))) {
            live = budgetsWithLiveRoles(config, liveRoles, await previousBudgets(), stack);
        }
        problems.push(...live.configProblems);
        if (problems.length > 0) {
            throw overOnConfig
                ? await overBudget(overOnConfig)
                : refusal(`Preflight failed; nothing was applied:\n  - ${problems.join("\n  - ")}`);
        }
        for (const warning of live.warnings) void pulumi.log.warn(warning);
        const over = overBudgetIn(() => checkBudgets(config, live.args)) ?? overOnConfig;
        if (over) throw await overBudget(over);
        budgets = live.args;
        // An app the last up had is adopted already: its plan shows only what would still change.
        const inLastUp = new Set(Object.keys(appsOf(await previousOutputs())));
        for (const [server, facts] of Object.entries(adoption)) {
            for (const plan of adoptionPlan(
                server,
                apps.filter((a) => a.server === server),
                facts,
                inLastUp,
            ))
                void pulumi.log.info(plan);
            for (const app of apps.filter((a) => a.server === server)) existing[app.name] = unadoptedExisting(app, facts);
        }
    }
    // Awaited only after the servers and the guard are declared: reading the last
    // outputs loads the whole last state (0.4 s at 100 apps), while the guard starts the provider.
    // Moves that carry the data: the last up says where each app was (program/moves.ts).
    const { moves, problems: moveProblems } = plannedMoves(config, await previousOutputs());
    if (moveProblems.length > 0)
        throw refusal(`A move cannot be made as configured; nothing was applied:\n  - ${moveProblems.join("\n  - ")}`);
    await announceMoves(config, moves, (app) => roleNamesOf(footprintOf(app)));
    const priorState = previousOutputs().then(stateAtLastUp);
    const declared = await declareStack(config, budgets, existing, priorState, moves).catch((err) => {
        throw err instanceof DedicatedStateError ? refusal(err.message) : err;
    });
    const { apps, budgets: reports, pgHba, access, backup, moves: moved } = declared;
    return {
        apps,
        ...keyedOutputs(reports, access),
        pgHba,
        ...(backup ? { backup } : {}),
        ...(moved ? { moves: moved } : {}),
        stateLayout: STATE_LAYOUT,
    };
};
