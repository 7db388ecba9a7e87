/**
 * The stack's resources as its last `up` left them, read from the backend
 * with the engine's built-in `readStackResourceOutputs` invoke (what a
 * StackReference reads, here for the stack itself).
 *
 * Needed once per upgrade: resources an earlier version declared and this one
 * no longer does would be deleted at the end of the `up`, and the provider's
 * delete of a DefaultPrivileges runs REVOKE, taking back what DatabaseAccess
 * now grants. Knowing they are there, AppDatabase keeps them in the program
 * for one `up` with retainOnDelete, and the next drops them from the state
 * only (upgrade.test.ts).
 */
import * as pulumi from "@pulumi/pulumi";

/** One resource of the stack's last state. */
export interface PriorResource {
    readonly urn: string;
    readonly type: string;
    readonly outputs: Readonly<Record<string, unknown>>;
}

/** The resource's name: the URN's last part. */
export const nameOfUrn = (urn: string): string => urn.slice(urn.lastIndexOf("::") + 2);

/** How the backend says the stack has no state yet (a file backend's empty checkpoint). */
const NO_CHECKPOINT = /failed to load checkpoint: EOF|no checkpoint|unknown stack/i;

/** This stack's full name, as the engine's built-in stack reads take it. */
export const thisStackName = (): string => `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;

let cached: Promise<readonly PriorResource[]> | undefined;

/**
 * Every resource of this stack at its last `up` (none for a new stack); read
 * once per program run. When the backend cannot say, the run fails: going on
 * without knowing could let an upgrade revoke what apps rely on.
 */
export function priorResources(): Promise<readonly PriorResource[]> {
    return (cached ??= (async () => {
        let stackName = "this stack";
        try {
            stackName = thisStackName();
            const result = (await pulumi.runtime.invoke("pulumi:pulumi:readStackResourceOutputs", { stackName })) as {
                outputs?: Record<string, { type?: string; outputs?: Record<string, unknown> }>;
            };
            return Object.entries(result?.outputs ?? {}).map(([urn, r]) => ({ urn, type: r?.type ?? "", outputs: r?.outputs ?? {} }));
        } catch (err) {
            // A stack that never finished an `up` has no checkpoint to read: nothing of an earlier version in it.
            if (NO_CHECKPOINT.test((err as Error).message)) return [];
            throw new Error(
                `cannot read the last state of ${stackName} (${(err as Error).message}); ` +
                    "it is needed to keep what an earlier version of app-databases declared from being revoked",
            );
        }
    })());
}

/**
 * Runs `declare` with the last state: at once when it is known, else once it
 * is read, keeping the run open until then (resources declared after the
 * program returned still count).
 */
export function withPriorResources(
    state: readonly PriorResource[] | Promise<readonly PriorResource[]>,
    declare: (resources: readonly PriorResource[]) => void,
): void {
    if (Array.isArray(state)) return declare(state as readonly PriorResource[]);
    const done = pulumi.runtime.rpcKeepAlive();
    void Promise.resolve(state).then(declare).finally(done);
}

/**
 * Keeps in the program, for the `up` that upgrades the stack, the resources
 * the last state holds that `matches` picks (ones an earlier version declared
 * for this app and a newer resource now does the work of). Dropped from the
 * program at once, the engine would delete them, and the provider's delete
 * undoes them on the server (REVOKE, DROP DATABASE). Declared again by
 * `declare` with retainOnDelete and every input ignored, they show no change
 * and make no provider call; the stack then records its new layout (program:
 * `stateLayout`), and the next `up` forgets them without touching the server.
 */
export function keepPrior(
    state: readonly PriorResource[] | Promise<readonly PriorResource[]>,
    matches: (r: PriorResource) => boolean,
    declare: (r: PriorResource, name: string, opts: pulumi.CustomResourceOptions) => void,
): void {
    withPriorResources(state, (resources) => {
        for (const r of resources.filter(matches)) {
            // Not protected: the next `up` must be able to forget it (retained, so nothing is dropped).
            declare(r, nameOfUrn(r.urn), { retainOnDelete: true, protect: false, ignoreChanges: Object.keys(r.outputs) });
        }
    });
}

/** Forgets what was read: the next call reads again (tests run several programs in one process). */
export function forgetPriorResources(): void {
    cached = undefined;
}
