/**
 * Pulumi mocks shared by the unit tests: every declared resource is recorded
 * with its type, name, inputs and parent, so tests can assert exactly what a
 * component declares.
 */
import * as pulumi from "@pulumi/pulumi";

export interface DeclaredResource {
    readonly type: string;
    readonly name: string;
    /** Inputs with secrets unwrapped to their values. */
    readonly inputs: Record<string, any>;
    /** Top-level input names whose value was (or contained) a secret. */
    readonly secretInputs: string[];
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Replaces Pulumi's serialized secrets by their values; reports whether any was found. */
function unwrap(value: any): [any, boolean] {
    if (value && typeof value === "object") {
        if (value[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270") return [unwrap(value.value)[0], true];
        let secret = false;
        const out: any = Array.isArray(value) ? [] : {};
        for (const [k, v] of Object.entries(value)) {
            const [u, s] = unwrap(v);
            out[k] = u;
            secret ||= s;
        }
        return [out, secret];
    }
    return [value, false];
}

export const declared: DeclaredResource[] = [];

/** The type the engine sees for ManagedRoles (a served resource in a TypeScript program). */
export const MANAGED_ROLES = "pulumi-nodejs:dynamic/app-databases:ManagedRoles";

/** The type the engine sees for DatabaseAccess, which makes an app's roles with its database. */
export const DATABASE_ACCESS = "pulumi-nodejs:dynamic/app-databases:DatabaseAccess";

/** The role names a declared ManagedRoles (or DatabaseAccess) makes, in slot order. */
export function managedRoleNames(resource: DeclaredResource): string[] {
    return Object.values((resource.inputs.roles ?? {}) as Record<string, { name: string }>).map((r) => r.name);
}

/** The stack's last state as the mocked engine reports it (readStackResourceOutputs): by URN, type and outputs. */
export const lastState: Record<string, { type: string; outputs: Record<string, unknown> }> = {};
/** When set, readStackResourceOutputs fails with this message (a backend that cannot say). */
export const lastStateRead: { error?: string } = {};

/**
 * Installs the mocks, once per test file, before constructing resources;
 * tests call `reset()` between cases instead of installing again.
 */
export function installMocks(stack = "test"): void {
    declared.length = 0;
    void pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                const secretInputs = Object.entries(args.inputs)
                    .filter(([, v]) => unwrap(v)[1])
                    .map(([k]) => k);
                declared.push({ type: args.type, name: args.name, inputs: unwrap(args.inputs)[0], secretInputs });
                const state: Record<string, any> = { ...args.inputs };
                if (args.type === "random:index/randomPassword:RandomPassword") {
                    state.result = `pw-${args.name}`;
                }
                // Either type: a dynamic resource in a program, the package's own when its plugin serves it.
                // DatabaseAccess makes an app's roles when it makes its database.
                if (args.type.endsWith(":ManagedRoles") || (args.type.endsWith(":DatabaseAccess") && args.inputs.roles)) {
                    // The provider generates them: a taken-over role keeps the one it had.
                    const existing = unwrap(args.inputs.existingPasswords)[0] ?? {};
                    state.passwords = Object.fromEntries(
                        Object.keys(unwrap(args.inputs.roles)[0] ?? {}).map((slot) => [slot, existing[slot] ?? `pw-${args.name}-${slot}`]),
                    );
                }
                if (args.type === "docker:index/network:Network") {
                    // Docker picks the subnet of a network created without one.
                    state.ipamConfigs = [{ subnet: "172.18.0.0/16", gateway: "172.18.0.1" }];
                }
                return { id: `${args.name}-id`, state };
            },
            call(args: pulumi.runtime.MockCallArgs) {
                if (args.token === "pulumi:pulumi:readStackResourceOutputs")
                    return { stackName: args.inputs.stackName, outputs: lastState };
                return args.inputs;
            },
        },
        "app-databases",
        stack,
        false,
        "organization",
    );
}

/** The resolved value of an output. */
export function valueOf<T>(output: pulumi.Output<T> | pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(output).apply((v) => resolve(v as T)));
}

/** Resources of one type, in declaration order. */
export function ofType(type: string): DeclaredResource[] {
    return declared.filter((r) => r.type === type);
}

/** Forgets what earlier cases declared. */
export async function reset(): Promise<void> {
    await settle();
    declared.length = 0;
}

/** Waits until the mock runtime has seen every registration. */
export async function settle(): Promise<void> {
    await new Promise((r) => setTimeout(r, 50));
}
