/**
 * One least-privilege login role with its generated password: the building
 * block of RolePair and of AppDatabase's extra roles. A role the stack makes
 * is one ManagedRole; one that existed is an AdoptedRole.
 */
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import * as random from "@pulumi/random";
import type { AdminConnection } from "./adminConnection";
import { AdoptedRole } from "./adoptedRole";
import { ManagedRole, PASSWORD_LENGTH } from "./managedRole";
import { nameOfUrn, PriorResource, withPriorResources } from "./priorState";

/** Per-role timeouts, in milliseconds; 0 disables one. */
export interface RoleTimeouts {
    readonly statementTimeoutMs: number;
    readonly idleInTransactionSessionTimeoutMs: number;
    readonly idleSessionTimeoutMs: number;
}

export interface LoginRoleSpec {
    /** The admin connection the role is made with. */
    readonly connection: pulumi.Input<AdminConnection>;
    /** The role's name on the server. */
    readonly roleName: string;
    readonly connectionLimit: number;
    /** Bump to generate a new password; any other change leaves it alone. */
    readonly rotation: number;
    /** Roles this one is a member of (INHERIT), whose privileges it uses. @default none */
    readonly memberOf?: pulumi.Input<string>[];
    /** Timeouts set on the role; none are set when omitted. */
    readonly timeouts?: RoleTimeouts;
    /** Refuse deletion (production). */
    readonly protect: boolean;
    /**
     * The role exists already: take it over (AdoptedRole) instead of creating it.
     * `password` keeps the one it has (supplied by the user); without it a new one
     * is generated, bumped by `rotation` like any other.
     */
    readonly adopt?: { readonly password?: pulumi.Input<string> };
    /** The stack's resources at its last `up`, for the upgrade from the provider's Role (see keepEarlierRole). */
    readonly stateAtLastUp: readonly PriorResource[] | Promise<readonly PriorResource[]>;
}

/** A login role, created or adopted: both have the name the grants refer to. */
export type LoginRoleResource = pulumi.CustomResource & { readonly name: pulumi.Output<string> };

export interface LoginRole {
    readonly role: LoginRoleResource;
    /** Secret. */
    readonly password: pulumi.Output<string>;
    /** What the provider cannot set (idle_session_timeout), for whoever applies it; empty without timeouts. */
    readonly settings: Readonly<Record<string, string>>;
}

/** The type earlier versions declared each created role as, beside a RandomPassword for its password. */
export const PROVIDER_ROLE = "postgresql:index/role:Role";

/** The provider's Role an earlier version declared as `resourceName` for `roleName`, if the last state has it. */
function earlierRole(state: readonly PriorResource[], resourceName: string, roleName: string): PriorResource | undefined {
    return state.find((r) => r.type === PROVIDER_ROLE && nameOfUrn(r.urn) === resourceName && r.outputs.name === roleName);
}

/**
 * Keeps in the program, for the `up` that upgrades the stack, the provider's
 * Role an earlier version declared for this role: dropped from the program
 * at once, the engine would delete it after the ManagedRole took the role
 * over, and the provider's delete is DROP ROLE. Declared again with
 * retainOnDelete and every input ignored, it shows no change and makes no
 * provider call; the stack then records its new layout (program:
 * `stateLayout`), and the next `up` forgets it without touching the server.
 * Its RandomPassword is left to go: deleting one touches nothing.
 */
function keepEarlierRole(parent: pulumi.Resource, resourceName: string, spec: LoginRoleSpec): void {
    withPriorResources(spec.stateAtLastUp, (state) => {
        const old = earlierRole(state, resourceName, spec.roleName);
        if (!old) return;
        new postgresql.Role(
            resourceName,
            { name: spec.roleName },
            // Not protected: the next `up` must be able to forget it (retained, so nothing is dropped).
            { parent, retainOnDelete: true, protect: false, ignoreChanges: Object.keys(old.outputs) },
        );
    });
}

/**
 * The password of the role an earlier version made as `resourceName`, while
 * the stack has no ManagedRole for it yet: the ManagedRole takes the role over
 * with it. Undefined otherwise (no property stored).
 */
function earlierPassword(resourceName: string, spec: LoginRoleSpec): pulumi.Output<string | undefined> {
    return pulumi.output(spec.stateAtLastUp).apply((state) => {
        const old = earlierRole(state, resourceName, spec.roleName);
        const managed = state.some((r) => r.type.endsWith(":ManagedRole") && nameOfUrn(r.urn) === resourceName);
        // A secret nested in the state read comes as the SDK's secret wrapper.
        const password: unknown = old && pulumi.runtime.unwrapRpcSecret(old.outputs.password);
        return !managed && typeof password === "string" ? pulumi.secret(password) : undefined;
    }) as pulumi.Output<string | undefined>; // apply lifts the returned Output, its secrecy included
}

/**
 * Declares the role as `resourceName`, a child of `parent`: a ManagedRole, or
 * an AdoptedRole (with `<resourceName>-password` unless its password is
 * supplied). The settings the provider cannot set come back in `settings`:
 * the caller applies them (roleSettings.ts says how).
 */
export function declareLoginRole(parent: pulumi.Resource, resourceName: string, spec: LoginRoleSpec): LoginRole {
    const settings: Record<string, string> = spec.timeouts ? { idle_session_timeout: String(spec.timeouts.idleSessionTimeoutMs) } : {};
    if (spec.adopt) {
        const supplied = spec.adopt.password;
        const password =
            supplied !== undefined ? pulumi.secret(pulumi.output(supplied)) : generatedPassword(parent, resourceName, spec.rotation);
        const role = new AdoptedRole(
            resourceName,
            {
                connection: spec.connection,
                name: spec.roleName,
                connectionLimit: spec.connectionLimit,
                password,
                memberOf: spec.memberOf,
                statementTimeoutMs: spec.timeouts?.statementTimeoutMs,
                idleInTransactionSessionTimeoutMs: spec.timeouts?.idleInTransactionSessionTimeoutMs,
            },
            { parent, protect: spec.protect },
        );
        return { role, password, settings };
    }
    keepEarlierRole(parent, resourceName, spec);
    const role = new ManagedRole(
        resourceName,
        {
            connection: spec.connection,
            name: spec.roleName,
            connectionLimit: spec.connectionLimit,
            rotation: spec.rotation,
            memberOf: spec.memberOf,
            statementTimeoutMs: spec.timeouts?.statementTimeoutMs,
            idleInTransactionSessionTimeoutMs: spec.timeouts?.idleInTransactionSessionTimeoutMs,
            existingPassword: earlierPassword(resourceName, spec),
        },
        { parent, protect: spec.protect },
    );
    return { role, password: pulumi.secret(role.password), settings };
}

/** `<resourceName>-password` of an adopted role: replaced only when `rotation` changes. */
function generatedPassword(parent: pulumi.Resource, resourceName: string, rotation: number): pulumi.Output<string> {
    const password = new random.RandomPassword(
        `${resourceName}-password`,
        {
            length: PASSWORD_LENGTH,
            special: false,
            minLower: 1,
            minUpper: 1,
            minNumeric: 1,
            // Keepers are the only thing that replaces the password: rotation is explicit.
            keepers: { rotation: String(rotation) },
        },
        { parent },
    );
    return password.result;
}
