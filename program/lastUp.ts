/**
 * What the stack's last `up` left: its outputs (cheap: the engine's built-in
 * `readStackOutputs`, what a StackReference reads) and, only for a stack an
 * earlier version made, its resources (priorState.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { PriorResource, priorResources, thisStackName } from "../components/priorState";

/**
 * The `stateLayout` output: 2 since DatabaseAccess holds each app's default
 * privileges, so the stack holds no postgresql DefaultPrivileges any more
 * than the ones kept for one `up` while upgrading; 3 since each created login
 * role is in a ManagedRoles, so it holds no postgresql Role either; 4 since
 * DatabaseAccess makes each created app database and its schemas, so it holds
 * no postgresql Database or Schema; 5 since that DatabaseAccess also makes the
 * app's login roles and the USAGE on its schemas, so such an app holds no
 * RolePair, ManagedRoles or USAGE Grant.
 */
export const STATE_LAYOUT = 5;

/** The stack's outputs at its last `up`; undefined on a stack that never ran one, or when the backend cannot say. */
export async function readPreviousOutputs(): Promise<Readonly<Record<string, unknown>> | undefined> {
    try {
        const result = (await pulumi.runtime.invoke("pulumi:pulumi:readStackOutputs", { name: thisStackName() })) as {
            outputs?: Record<string, unknown>;
        };
        return result?.outputs && typeof result.outputs === "object" ? result.outputs : undefined;
    } catch {
        return undefined;
    }
}

/**
 * The resources AppDatabase needs to see from the last `up`: none when that
 * `up` already had this layout (no read of the whole state on every run),
 * else the whole last state (an upgrade, or a new stack: then empty).
 */
export async function stateAtLastUp(previous: Readonly<Record<string, unknown>> | undefined): Promise<readonly PriorResource[]> {
    const layout = previous?.stateLayout;
    return typeof layout === "number" && layout >= STATE_LAYOUT ? [] : priorResources();
}
