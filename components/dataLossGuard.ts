/**
 * DataLossGuard: config changes that would lose data fail the preview, with
 * what would be lost and how to go on deliberately, before anything is applied.
 *
 * - A move (shared server to dedicated container, or between servers) copies
 *   the data into a new database on the new server and keeps the old one
 *   (program/moves.ts, DataMove). Refused until `allowMoveFrom: <old server>`
 *   acknowledges it.
 * - In a protected stack, an app that disappears from the config would be
 *   deleted: refused unless it is listed in `retiredApps` (retained on delete:
 *   forgotten by the stack, left on the server with its data). Renaming an app
 *   is a removal plus a new app, so it is refused the same way.
 * - A changed `database` of an existing app on the same server would rename
 *   the database under grants that still name the old one, and fail halfway
 *   through: refused, with the way to keep the old name.
 * - A database or role the config would create that exists on the server
 *   already, and that this stack did not create (it is not in what the guard
 *   remembers), would fail the `up` half-way: refused, with the two ways
 *   forward (adopt it, or choose another name). The program reads the server;
 *   the guard alone knows what the stack made, even after a failed `up`.
 *
 * One resource for the whole stack remembers where each app lives: a dynamic
 * resource's state carries its serialized provider, and one per app made the
 * state, which the engine rewrites after every step, grow with every app.
 */
import * as pulumi from "@pulumi/pulumi";
import { served, ServedResource } from "./servedResource";

/** What an app leaves on its server, and what a change to it must acknowledge. */
export interface AppFootprint {
    /** Server key the app lives on (`servers` entry or `dedicated-<app>`). */
    readonly server: string;
    readonly placement: string;
    readonly database: string;
    readonly roles: readonly string[];
    /** The server the user acknowledges moving away from. */
    readonly allowMoveFrom?: string;
}

interface GuardState {
    protect: boolean;
    apps: Record<string, AppFootprint>;
    retiredApps: string[];
    /**
     * Per app, what it would create that the server holds already (`role x`,
     * `database y`): checked, never stored, so the server's contents never show as a change.
     */
    existing?: Record<string, string[]>;
}

/** The preview error for names that exist on the server and that this stack did not create, or undefined. */
export function existingProblem(olds: Partial<GuardState> | undefined, news: GuardState): string | undefined {
    const lines: string[] = [];
    for (const [app, names] of Object.entries(news.existing ?? {})) {
        const old = olds?.apps?.[app];
        const now = news.apps[app];
        const ours = (name: string) =>
            old !== undefined &&
            old.server === now?.server &&
            (name === `database ${old.database}` || old.roles.some((r) => name === `role ${r}`));
        const foreign = names.filter((n) => !ours(n));
        if (foreign.length === 0) continue;
        const roles = foreign.filter((n) => n.startsWith("role ")).map((n) => n.slice(5));
        const database = foreign.some((n) => n.startsWith("database "));
        const adopt = [
            ...(database ? [`apps.${app}.adopt.database: true`] : []),
            ...roles.map((r) => `apps.${app}.adopt.roles.${r}: {password | passwordFile | newPassword: true}`),
        ];
        const rename = [
            ...(database ? [`apps.${app}.database`] : []),
            ...(roles.length > 0 ? [`apps.${app}.roles (migrate, runtime) or the extra role's name`] : []),
        ];
        lines.push(
            `  - apps.${app}: ${foreign.join(", ")} already ${foreign.length === 1 ? "exists" : "exist"} on server ${now?.server}, made outside this stack.\n` +
                `    Adopt ${foreign.length === 1 ? "it" : "them"} (${adopt.join("; ")}), or choose another name (${rename.join("; ")}).`,
        );
    }
    if (lines.length === 0) return undefined;
    return ["The config would create what exists already; nothing was applied:", ...lines].join("\n");
}

/** The preview error for apps removed from a protected stack, or undefined. */
export function removalProblem(olds: Partial<GuardState> | undefined, news: GuardState): string | undefined {
    if (!news.protect || !olds?.apps) return undefined;
    const removed = Object.keys(olds.apps).filter((app) => !(app in news.apps) && !news.retiredApps.includes(app));
    if (removed.length === 0) return undefined;
    const lines = removed.map((app) => {
        const f = olds.apps![app];
        return `  - apps.${app}: database ${f.database} on ${f.server} with all its data, and roles ${f.roles.join(", ")}`;
    });
    return [
        `This stack is protected, and ${removed.length === 1 ? "an app was" : "apps were"} removed from its config; deleting would lose:`,
        ...lines,
        "Nothing was applied. To go on deliberately:",
        "  - keep managing it: put the app back under apps;",
        `  - stop managing it and keep its data: add ${removed.join(", ")} to app-databases:retiredApps, then run \`scripts/retire-apps.sh --stack <stack> ${removed.join(" ")}\` (it unprotects all of the app's resources at once and runs \`pulumi up\`): they are retained on delete, left in place;`,
        "  - drop it for good: do that by hand on the server after retiring it.",
    ].join("\n");
}

/** The preview error for one app's unacknowledged move, or undefined when there is none. */
export function moveProblem(app: string, old: Partial<AppFootprint> | undefined, now: AppFootprint): string | undefined {
    if (!old?.server || old.server === now.server || now.allowMoveFrom === old.server) return undefined;
    return (
        `apps.${app} moves from ${old.server} (${old.placement ?? "its placement"}) to ${now.server} (${now.placement}): ` +
        `the up copies database ${old.database ?? now.database} into a new database on ${now.server}, verifies it and switches the ` +
        `app's outputs to it; the old one stays on ${old.server}, CONNECT revoked from the app's roles, until you retire it ` +
        `(README: "Moving an app between placements"). Set apps.${app}.allowMoveFrom: ${old.server} to proceed.`
    );
}

/** The preview error for an app whose database name changed on the same server, or undefined. */
export function renameProblem(app: string, old: Partial<AppFootprint> | undefined, now: AppFootprint): string | undefined {
    if (!old?.database || old.server !== now.server || old.database === now.database) return undefined;
    return (
        `apps.${app}.database changes from ${old.database} to ${now.database} on ${now.server}: renaming an app's ` +
        `database is not supported (its grants name the old database). Set apps.${app}.database: ${old.database} ` +
        `to keep it; the app's name and its database's name may differ.`
    );
}

/** Every unacknowledged move and every database rename in the stack. */
export function changeProblems(olds: Partial<GuardState> | undefined, news: GuardState): string[] {
    return Object.entries(news.apps).flatMap(([app, now]) =>
        [moveProblem(app, olds?.apps?.[app], now), renameProblem(app, olds?.apps?.[app], now)].filter((p): p is string => !!p),
    );
}

/**
 * Whether the guard's data changed. The engine adds the serialized provider
 * (`__provider`) to a dynamic resource's inputs and state, and it differs
 * whenever this file's code does: it is left out, so a new version of the
 * program alone never shows the guard as changed.
 */
export function guardChanged(olds: object, news: object): boolean {
    const data = (state: object) => JSON.stringify(Object.fromEntries(Object.entries(state).filter(([key]) => key !== "__provider")));
    return data(olds) !== data(news);
}

export const dataLossGuardProvider: pulumi.dynamic.ResourceProvider<GuardState, GuardState> = {
    async check(olds, news) {
        const problems = [...changeProblems(olds, news), removalProblem(olds, news), existingProblem(olds, news)].filter(
            (p): p is string => !!p,
        );
        const { existing: _checked, ...inputs } = news;
        // No property: the engine would print the whole `apps` value before the reason.
        return { inputs, failures: problems.map((reason) => ({ property: "", reason })) };
    },
    async create(inputs) {
        return { id: "app-databases", outs: inputs };
    },
    async diff(_id, olds, news) {
        return { changes: guardChanged(olds, news) };
    },
    async update(_id, _olds, news) {
        return { outs: news };
    },
};
export interface DataLossGuardArgs {
    readonly protect: boolean;
    readonly apps: Readonly<Record<string, AppFootprint>>;
    /** Per app, what it would create that exists on the server already (read by the preflight). @default none */
    readonly existing?: Readonly<Record<string, readonly string[]>>;
    /** Apps deliberately removed; their resources are retained, not dropped. */
    readonly retiredApps: readonly string[];
}

/** Served by the package plugin; in a TypeScript program the state stores the line that loads it (servedResource.ts). */
const dataLossGuardProviderModule = served("DataLossGuard", __filename, "dataLossGuardProvider", dataLossGuardProvider);

export class DataLossGuard extends ServedResource {
    constructor(name: string, args: DataLossGuardArgs, opts: pulumi.CustomResourceOptions = {}) {
        super(dataLossGuardProviderModule, name, { ...args }, opts, "app-databases", "DataLossGuard");
    }
}
