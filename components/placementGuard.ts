/**
 * PlacementGuard: moving an app to another server is never silent.
 *
 * A move (shared server to dedicated container, or between servers) creates a
 * new, empty database on the new server and deletes the old one; no data is
 * copied. The guard remembers where each app lives and fails the preview of a
 * move until the config acknowledges it with `allowMoveFrom: <old server>`.
 */
import * as pulumi from "@pulumi/pulumi";

export interface PlacementGuardArgs {
    readonly app: string;
    /** Server key the app lives on now (`servers` entry or `dedicated-<app>`). */
    readonly server: string;
    readonly placement: string;
    /** The server the user acknowledges moving away from. */
    readonly allowMoveFrom?: string;
}

type GuardState = { app: string; server: string; placement: string; allowMoveFrom?: string };

/** The preview error for an unacknowledged move, or undefined when there is none. */
export function moveProblem(olds: Partial<GuardState> | undefined, news: GuardState): string | undefined {
    if (!olds?.server || olds.server === news.server || news.allowMoveFrom === olds.server) return undefined;
    return (
        `apps.${news.app} moves from ${olds.server} (${olds.placement}) to ${news.server} (${news.placement}): ` +
        `this creates a NEW, EMPTY database on ${news.server} and deletes the one on ${olds.server} ` +
        `(no data is copied). Copy the data first (README: "Moving an app between placements"), ` +
        `then set apps.${news.app}.allowMoveFrom: ${olds.server} to proceed.`
    );
}

const placementGuardProvider: pulumi.dynamic.ResourceProvider<GuardState, GuardState> = {
    async check(olds, news) {
        const problem = moveProblem(olds, news);
        return problem ? { inputs: news, failures: [{ property: "server", reason: problem }] } : { inputs: news };
    },
    async create(inputs) {
        return { id: inputs.app, outs: inputs };
    },
    async diff(_id, olds, news) {
        return { changes: olds.server !== news.server || olds.placement !== news.placement || olds.allowMoveFrom !== news.allowMoveFrom };
    },
    async update(_id, _olds, news) {
        return { outs: news };
    },
};

export class PlacementGuard extends pulumi.dynamic.Resource {
    constructor(name: string, args: PlacementGuardArgs, opts: pulumi.CustomResourceOptions = {}) {
        super(placementGuardProvider, name, { allowMoveFrom: undefined, ...args }, opts, "app-databases", "PlacementGuard");
    }
}
