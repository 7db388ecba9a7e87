/**
 * One least-privilege login role with its generated password: the building
 * block of RolePair and of AppDatabase's extra roles.
 */
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import * as random from "@pulumi/random";

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
}

export interface LoginRole {
    readonly role: postgresql.Role;
    readonly password: random.RandomPassword;
    /** What the provider cannot set (idle_session_timeout), for whoever applies it; empty without timeouts. */
    readonly settings: Readonly<Record<string, string>>;
}

/**
 * Declares `<resourceName>-password` and `<resourceName>` (the role), both
 * children of `parent`. The settings the provider cannot set come back in
 * `settings`: the caller applies them (roleSettings.ts says how).
 */
export function declareLoginRole(parent: pulumi.Resource, resourceName: string, spec: LoginRoleSpec): LoginRole {
    const password = new random.RandomPassword(
        `${resourceName}-password`,
        {
            length: PASSWORD_LENGTH,
            special: false,
            minLower: 1,
            minUpper: 1,
            minNumeric: 1,
            // Keepers are the only thing that replaces the password: rotation is explicit.
            keepers: { rotation: String(spec.rotation) },
        },
        { parent },
    );
    const role = new postgresql.Role(
        resourceName,
        {
            name: spec.roleName,
            login: true,
            password: password.result,
            connectionLimit: spec.connectionLimit,
            superuser: false,
            createDatabase: false,
            createRole: false,
            replication: false,
            bypassRowLevelSecurity: false,
            inherit: true,
            ...(spec.memberOf ? { roles: spec.memberOf } : {}),
            statementTimeout: spec.timeouts?.statementTimeoutMs,
            idleInTransactionSessionTimeout: spec.timeouts?.idleInTransactionSessionTimeoutMs,
        },
        { parent, protect: spec.protect },
    );
    const settings: Record<string, string> = spec.timeouts ? { idle_session_timeout: String(spec.timeouts.idleSessionTimeoutMs) } : {};
    return { role, password, settings };
}
