/**
 * Least-privilege login roles with their generated passwords: the building
 * block of RolePair and of AppDatabase's extra roles. The roles the stack
 * makes are one ManagedRoles resource; each one that existed is an AdoptedRole.
 */
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import * as random from "@pulumi/random";
import type { AdminConnection } from "./adminConnection";
import { AdoptedRole } from "./adoptedRole";
import { ManagedRoles, ManagedRoleSpec, PASSWORD_LENGTH } from "./managedRoles";
import { keepPrior, nameOfUrn, PriorResource } from "./priorState";

/** Per-role timeouts, in milliseconds; 0 disables one. */
export interface RoleTimeouts {
    readonly statementTimeoutMs: number;
    readonly idleInTransactionSessionTimeoutMs: number;
    readonly idleSessionTimeoutMs: number;
}

export interface LoginRoleSpec {
    /**
     * The name an adopted role's resource gets (`<resourceName>`, with
     * `<resourceName>-password`), and the name earlier versions gave the
     * provider's Role for this role (the upgrade looks for it).
     */
    readonly resourceName: string;
    /** The role's name on the server. */
    readonly roleName: string;
    readonly connectionLimit: number;
    /** Bump to generate a new password; any other change leaves it alone. */
    readonly rotation: number;
    /** Roles this one is a member of (INHERIT), whose privileges it uses. @default none */
    readonly memberOf?: pulumi.Input<string>[];
    /** Timeouts set on the role; none are set when omitted. */
    readonly timeouts?: RoleTimeouts;
    /**
     * The role exists already: take it over (AdoptedRole) instead of creating it.
     * `password` keeps the one it has (supplied by the user); without it a new one
     * is generated, bumped by `rotation` like any other.
     */
    readonly adopt?: { readonly password?: pulumi.Input<string> };
}

/** What every role of a declaration shares. */
export interface LoginRolesCommon {
    /** The admin connection the roles are made with. */
    readonly connection: pulumi.Input<AdminConnection>;
    /** Refuse deletion (production). */
    readonly protect: boolean;
    /** The stack's resources at its last `up`, for the upgrade from the provider's Role (see keepEarlierRole). */
    readonly stateAtLastUp: readonly PriorResource[] | Promise<readonly PriorResource[]>;
    /** Where the roles' resources were before (another parent): AppDatabase once had them under a RolePair. @default none */
    readonly aliases?: pulumi.Input<pulumi.Alias>[];
}

export interface LoginRole {
    /** The role's name, from the resource that makes or adopts it (what uses it depends on that resource). */
    readonly name: pulumi.Output<string>;
    /** That resource. */
    readonly resource: pulumi.CustomResource;
    /** Secret. */
    readonly password: pulumi.Output<string>;
    /** What the provider cannot set (idle_session_timeout), for whoever applies it; empty without timeouts. */
    readonly settings: Readonly<Record<string, string>>;
}

/** The type earlier versions declared each created role as, beside a RandomPassword for its password. */
export const PROVIDER_ROLE = "postgresql:index/role:Role";

/** The provider's Role an earlier version declared as `resourceName` for `roleName`, if the last state has it. */
function earlierRole(state: readonly PriorResource[], spec: LoginRoleSpec): PriorResource | undefined {
    return state.find((r) => r.type === PROVIDER_ROLE && nameOfUrn(r.urn) === spec.resourceName && r.outputs.name === spec.roleName);
}

/**
 * Keeps in the program, for the `up` that upgrades the stack, the provider's
 * Roles an earlier version declared for these roles (keepPrior): dropped from
 * the program at once, the engine would delete them after ManagedRoles took
 * the roles over, and the provider's delete is DROP ROLE. Their
 * RandomPasswords are left to go: deleting one touches nothing.
 */
export function keepEarlierRoles(parent: pulumi.Resource, specs: readonly LoginRoleSpec[], common: LoginRolesCommon): void {
    keepPrior(
        common.stateAtLastUp,
        (r) => specs.some((spec) => earlierRole([r], spec) !== undefined),
        (r, resourceName, opts) =>
            new postgresql.Role(resourceName, { name: String(r.outputs.name) }, { ...opts, parent, aliases: common.aliases }),
    );
}

/**
 * The passwords, by slot, of the roles of `specs` that an earlier layout
 * made: the ManagedRoles named in `holders` (matched by role name) or the
 * provider's Role of each. For the resource that now makes them, to take
 * them over with those passwords. Undefined when there are none.
 */
export function earlierRolePasswords(
    state: readonly PriorResource[],
    holders: readonly string[],
    specs: Readonly<Record<string, LoginRoleSpec>>,
): Record<string, string> | undefined {
    const passwords: Record<string, string> = {};
    const reveal = (value: unknown): unknown => pulumi.runtime.unwrapRpcSecret(value);
    for (const r of state.filter((r) => r.type.endsWith(":ManagedRoles") && holders.includes(nameOfUrn(r.urn)))) {
        const roles = (reveal(r.outputs.roles) ?? {}) as Record<string, { name?: string }>;
        const held = (reveal(r.outputs.passwords) ?? {}) as Record<string, unknown>;
        for (const [oldSlot, role] of Object.entries(roles)) {
            const slot = Object.keys(specs).find((s) => specs[s].roleName === role?.name);
            const password = reveal(held[oldSlot]);
            if (slot !== undefined && typeof password === "string") passwords[slot] = password;
        }
    }
    for (const [slot, spec] of Object.entries(specs)) {
        // A secret nested in the state read comes as the SDK's secret wrapper.
        const password: unknown = reveal(earlierRole(state, spec)?.outputs.password);
        if (typeof password === "string" && passwords[slot] === undefined) passwords[slot] = password;
    }
    return Object.keys(passwords).length > 0 ? passwords : undefined;
}

/**
 * The passwords of the roles an earlier version made, by slot, while the
 * stack has no ManagedRoles `resourceName` yet: it takes the roles over with
 * them. Undefined when there are none (no property stored).
 */
function earlierPasswords(
    resourceName: string,
    specs: Readonly<Record<string, LoginRoleSpec>>,
    common: LoginRolesCommon,
): pulumi.Output<Record<string, string> | undefined> {
    return pulumi.output(common.stateAtLastUp).apply((state) => {
        if (state.some((r) => r.type.endsWith(":ManagedRoles") && nameOfUrn(r.urn) === resourceName)) return undefined;
        const passwords = earlierRolePasswords(state, [], specs);
        return passwords ? pulumi.secret(passwords) : undefined;
    }) as pulumi.Output<Record<string, string> | undefined>; // apply lifts the returned Output, its secrecy included
}

/** What the provider cannot set (idle_session_timeout), for whoever applies it; empty without timeouts. */
export const settingsOf = (spec: LoginRoleSpec): Record<string, string> =>
    spec.timeouts ? { idle_session_timeout: String(spec.timeouts.idleSessionTimeoutMs) } : {};

/** A role to create, as ManagedRoles (or DatabaseAccess) takes it. */
export function managedRoleSpec(spec: LoginRoleSpec): pulumi.Output<ManagedRoleSpec> {
    return pulumi.all(spec.memberOf ?? []).apply((memberOf) => ({
        name: spec.roleName,
        connectionLimit: spec.connectionLimit,
        rotation: spec.rotation,
        memberOf,
        ...(spec.timeouts
            ? {
                  statementTimeoutMs: spec.timeouts.statementTimeoutMs,
                  idleInTransactionSessionTimeoutMs: spec.timeouts.idleInTransactionSessionTimeoutMs,
              }
            : {}),
    }));
}

/**
 * Declares the roles, by slot, as children of `parent`: the ones to create as
 * one ManagedRoles `resourceName`, each adopted one as an AdoptedRole (with
 * `<resourceName>-password` unless its password is supplied). The settings
 * the provider cannot set come back in `settings`: the caller applies them
 * (roleSettings.ts says how).
 */
export function declareLoginRoles(
    parent: pulumi.Resource,
    resourceName: string,
    specs: Readonly<Record<string, LoginRoleSpec>>,
    common: LoginRolesCommon,
): Record<string, LoginRole> {
    const created = Object.entries(specs).filter(([, spec]) => !spec.adopt);
    const logins: Record<string, LoginRole> = {};
    if (created.length > 0) {
        const toCreate = Object.fromEntries(created);
        keepEarlierRoles(parent, Object.values(toCreate), common);
        const roles = new ManagedRoles(
            resourceName,
            {
                connection: common.connection,
                roles: Object.fromEntries(created.map(([slot, spec]) => [slot, managedRoleSpec(spec)])),
                existingPasswords: earlierPasswords(resourceName, toCreate, common),
            },
            { parent, protect: common.protect },
        );
        for (const [slot, spec] of created) {
            logins[slot] = { name: roles.nameOf(slot), resource: roles, password: roles.passwordOf(slot), settings: settingsOf(spec) };
        }
    }
    return { ...logins, ...declareAdoptedRoles(parent, specs, common) };
}

/**
 * Declares each adopted role of `specs` (the others are left out) as an
 * AdoptedRole child of `parent`, with `<resourceName>-password` unless its
 * password is supplied.
 */
export function declareAdoptedRoles(
    parent: pulumi.Resource,
    specs: Readonly<Record<string, LoginRoleSpec>>,
    common: LoginRolesCommon,
): Record<string, LoginRole> {
    const logins: Record<string, LoginRole> = {};
    for (const [slot, spec] of Object.entries(specs)) {
        if (!spec.adopt) continue;
        const supplied = spec.adopt.password;
        const password =
            supplied !== undefined
                ? pulumi.secret(pulumi.output(supplied))
                : generatedPassword(parent, spec.resourceName, spec.rotation, common.aliases);
        const role = new AdoptedRole(
            spec.resourceName,
            {
                connection: common.connection,
                name: spec.roleName,
                connectionLimit: spec.connectionLimit,
                password,
                memberOf: spec.memberOf,
                statementTimeoutMs: spec.timeouts?.statementTimeoutMs,
                idleInTransactionSessionTimeoutMs: spec.timeouts?.idleInTransactionSessionTimeoutMs,
            },
            { parent, protect: common.protect, aliases: common.aliases },
        );
        logins[slot] = { name: role.name, resource: role, password, settings: settingsOf(spec) };
    }
    return logins;
}

/** `<resourceName>-password` of an adopted role: replaced only when `rotation` changes. */
function generatedPassword(
    parent: pulumi.Resource,
    resourceName: string,
    rotation: number,
    aliases?: pulumi.Input<pulumi.Alias>[],
): pulumi.Output<string> {
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
        { parent, aliases },
    );
    return password.result;
}
