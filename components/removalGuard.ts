/**
 * RemovalGuard: in a protected stack, an app that disappears from the config
 * fails the preview with what would be lost, instead of a bare "resource is
 * protected" at the end of a plan.
 *
 * The deliberate ways on are printed with it: put the app back, or list it in
 * `retiredApps` and unprotect its resources, after which they are retained on
 * delete: forgotten by the stack, left on the server with their data.
 */
import * as pulumi from "@pulumi/pulumi";

/** What an app leaves on its server. */
export interface AppFootprint {
    readonly server: string;
    readonly database: string;
    readonly roles: readonly string[];
}

interface GuardState {
    protect: boolean;
    apps: Record<string, AppFootprint>;
    retiredApps: string[];
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
        `  - stop managing it and keep its data: add ${removed.join(", ")} to app-databases:retiredApps, run \`pulumi state unprotect\` on its resources (pulumi lists them), then \`pulumi up\`: they are retained on delete, left in place;`,
        "  - drop it for good: do that by hand on the server after retiring it.",
    ].join("\n");
}

const removalGuardProvider: pulumi.dynamic.ResourceProvider<GuardState, GuardState> = {
    async check(olds, news) {
        const problem = removalProblem(olds, news);
        return problem ? { inputs: news, failures: [{ property: "apps", reason: problem }] } : { inputs: news };
    },
    async create(inputs) {
        return { id: "app-databases", outs: inputs };
    },
    async diff(_id, olds, news) {
        return { changes: JSON.stringify(olds) !== JSON.stringify(news) };
    },
    async update(_id, _olds, news) {
        return { outs: news };
    },
};

export interface RemovalGuardArgs {
    readonly protect: boolean;
    readonly apps: Readonly<Record<string, AppFootprint>>;
    /** Apps deliberately removed; their resources are retained, not dropped. */
    readonly retiredApps: readonly string[];
}

export class RemovalGuard extends pulumi.dynamic.Resource {
    constructor(name: string, args: RemovalGuardArgs, opts: pulumi.CustomResourceOptions = {}) {
        super(removalGuardProvider, name, { ...args }, opts, "app-databases", "RemovalGuard");
    }
}
