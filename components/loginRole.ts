/**
 * One least-privilege login role with its generated password: the building
 * block of RolePair and of AppDatabase's extra roles.
 */
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import * as random from "@pulumi/random";
import type { AdminConnection } from "./adminConnection";
import { AdoptedRole } from "./adoptedRole";
import { LOGIN_ROLE_ATTRIBUTES } from "./defaults";

/** Long enough for any attacker, alphanumeric so it needs no escaping in URLs or shells. */
export const PASSWORD_LENGTH = 40;

/** Per-role timeouts, in milliseconds; 0 disables one. */
export interface RoleTimeouts {
    readonly statementTimeoutMs: number;
    readonly idleInTransactionSessionTimeoutMs: number;
    readonly idleSessionTimeoutMs: number;
}

export interface LoginRoleSpec {
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
    readonly adopt?: { readonly connection: pulumi.Input<AdminConnection>; readonly password?: pulumi.Input<string> };
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

/**
 * Declares `<resourceName>-password` and `<resourceName>` (the role), both
 * children of `parent`. The settings the provider cannot set come back in
 * `settings`: the caller applies them (roleSettings.ts says how).
 */
export function declareLoginRole(parent: pulumi.Resource, resourceName: string, spec: LoginRoleSpec): LoginRole {
    const settings: Record<string, string> = spec.timeouts ? { idle_session_timeout: String(spec.timeouts.idleSessionTimeoutMs) } : {};
    const supplied = spec.adopt?.password;
    const password =
        supplied !== undefined ? pulumi.secret(pulumi.output(supplied)) : generatedPassword(parent, resourceName, spec.rotation);
    if (spec.adopt) {
        const role = new AdoptedRole(
            resourceName,
            {
                connection: spec.adopt.connection,
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
    const role = new postgresql.Role(
        resourceName,
        {
            name: spec.roleName,
            ...LOGIN_ROLE_ATTRIBUTES,
            password,
            connectionLimit: spec.connectionLimit,
            ...(spec.memberOf ? { roles: spec.memberOf } : {}),
            statementTimeout: spec.timeouts?.statementTimeoutMs,
            idleInTransactionSessionTimeout: spec.timeouts?.idleInTransactionSessionTimeoutMs,
        },
        { parent, protect: spec.protect },
    );
    return { role, password, settings };
}

/** `<resourceName>-password`: replaced only when `rotation` changes. */
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
