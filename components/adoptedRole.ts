/**
 * AdoptedRole: a login role that existed before the stack, taken under
 * management instead of created.
 *
 * The provider's Role cannot do this: creating it over an existing role fails
 * half-way (`role ... already exists`), and a Pulumi `import` refuses any
 * difference between the role and the declaration, while adopting is exactly
 * about changing it (a CONNECTION LIMIT, NOSUPERUSER, timeouts). This small
 * dynamic resource ALTERs the role into the shape a created one has, sets the
 * password only when it is given (a supplied one is kept; a rotation hands a
 * new one), and never drops the role: deleting it only ends management.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Client } from "pg";
import { AdminConnection, withAdminClient } from "./adminConnection";
import { LOGIN_ROLE_ATTRIBUTES } from "./defaults";
import { parseSetconfig } from "./roleSettings";
import { served, ServedResource } from "./servedResource";
import { grantRole, roleAttributesQuery, setRoleSetting, shapeRoleStatement } from "./sql/roles";

export interface AdoptedRoleArgs {
    /** The admin connection (a secret: it carries the password). */
    readonly connection: pulumi.Input<AdminConnection>;
    /** The existing role's name. */
    readonly name: string;
    readonly connectionLimit: number;
    /** The role's password from now on (secret): the one it has, supplied by the user, or a new one. */
    readonly password: pulumi.Input<string>;
    /** Roles it becomes a member of (INHERIT); memberships it had stay. @default none */
    readonly memberOf?: pulumi.Input<pulumi.Input<string>[]>;
    /** statement_timeout, ms; left alone when omitted. */
    readonly statementTimeoutMs?: number;
    /** idle_in_transaction_session_timeout, ms; left alone when omitted. */
    readonly idleInTransactionSessionTimeoutMs?: number;
}

/** The attributes a managed login role has, as `pg_roles` shows them. */
export interface RoleAttributes {
    login: boolean;
    superuser: boolean;
    createDatabase: boolean;
    createRole: boolean;
    replication: boolean;
    bypassRowLevelSecurity: boolean;
    inherit: boolean;
    connectionLimit: number;
    /** Role-wide settings this resource manages (statement_timeout, ...), as set on the server. */
    settings: Record<string, string>;
    memberOf: string[];
}

interface AdoptedInputs {
    connection: AdminConnection;
    name: string;
    connectionLimit: number;
    password: string;
    memberOf: string[];
    statementTimeoutMs?: number;
    idleInTransactionSessionTimeoutMs?: number;
}

interface AdoptedState extends AdoptedInputs {
    /** What the role looked like when it was adopted: the preview and the README's "giving up management" refer to it. */
    before: RoleAttributes;
    /** What it looks like now (read back on refresh). */
    now: RoleAttributes;
}

/** The role-wide settings a declaration asks for. */
export function wantedSettings(
    inputs: Pick<AdoptedInputs, "statementTimeoutMs" | "idleInTransactionSessionTimeoutMs">,
): Record<string, string> {
    const settings: Record<string, string> = {};
    if (inputs.statementTimeoutMs !== undefined) settings.statement_timeout = String(inputs.statementTimeoutMs);
    if (inputs.idleInTransactionSessionTimeoutMs !== undefined) {
        settings.idle_in_transaction_session_timeout = String(inputs.idleInTransactionSessionTimeoutMs);
    }
    return settings;
}

/** The attributes a declaration asks for: those of a role this program creates. */
export function wantedAttributes(inputs: Omit<AdoptedInputs, "connection" | "name" | "password">): RoleAttributes {
    return {
        ...LOGIN_ROLE_ATTRIBUTES,
        connectionLimit: inputs.connectionLimit,
        settings: wantedSettings(inputs),
        memberOf: [...inputs.memberOf].sort(),
    };
}

/** The role attributes as booleans, with the keywords that set and clear each. */
const ROLE_FLAGS: readonly (readonly [keyof typeof LOGIN_ROLE_ATTRIBUTES, string, string])[] = [
    ["login", "LOGIN", "NOLOGIN"],
    ["superuser", "SUPERUSER", "NOSUPERUSER"],
    ["createDatabase", "CREATEDB", "NOCREATEDB"],
    ["createRole", "CREATEROLE", "NOCREATEROLE"],
    ["replication", "REPLICATION", "NOREPLICATION"],
    ["bypassRowLevelSecurity", "BYPASSRLS", "NOBYPASSRLS"],
    ["inherit", "INHERIT", "NOINHERIT"],
];

/** Each attribute that differs, as `name: before -> after`; memberships only count those asked for. */
export function attributeChanges(before: RoleAttributes, after: RoleAttributes): string[] {
    const changes: string[] = [];
    for (const [key, yes, no] of ROLE_FLAGS) {
        if (before[key] !== after[key]) changes.push(`${before[key] ? yes : no} -> ${after[key] ? yes : no}`);
    }
    if (before.connectionLimit !== after.connectionLimit) {
        const limit = (n: number) => (n < 0 ? "none" : String(n));
        changes.push(`CONNECTION LIMIT ${limit(before.connectionLimit)} -> ${limit(after.connectionLimit)}`);
    }
    for (const [name, value] of Object.entries(after.settings)) {
        if (before.settings[name] !== value) changes.push(`${name} ${before.settings[name] ?? "(unset)"} -> ${value}`);
    }
    const joins = after.memberOf.filter((r) => !before.memberOf.includes(r));
    if (joins.length > 0) changes.push(`member of ${joins.join(", ")} (new)`);
    return changes;
}

/** The role's attributes, or undefined when it does not exist. */
export async function readRoleAttributes(
    client: Client,
    name: string,
    settingNames: readonly string[],
): Promise<RoleAttributes | undefined> {
    return (await readRolesAttributes(client, [name], settingNames)).get(name);
}

/**
 * The attributes of each named role that exists, in one query: the preflight
 * of 100 apps read 200 roles one query each, before anything was declared.
 */
export async function readRolesAttributes(
    client: Client,
    names: readonly string[],
    settingNames: readonly string[],
): Promise<Map<string, RoleAttributes>> {
    const found = await client.query<{
        rolname: string;
        rolcanlogin: boolean;
        rolsuper: boolean;
        rolcreatedb: boolean;
        rolcreaterole: boolean;
        rolreplication: boolean;
        rolbypassrls: boolean;
        rolinherit: boolean;
        rolconnlimit: number;
        setconfig: string[] | null;
        member_of: string[] | null;
    }>(roleAttributesQuery(names));
    return new Map(
        found.rows.map((r) => [
            r.rolname,
            {
                login: r.rolcanlogin,
                superuser: r.rolsuper,
                createDatabase: r.rolcreatedb,
                createRole: r.rolcreaterole,
                replication: r.rolreplication,
                bypassRowLevelSecurity: r.rolbypassrls,
                inherit: r.rolinherit,
                connectionLimit: r.rolconnlimit,
                settings: parseSetconfig(r.setconfig, settingNames),
                memberOf: r.member_of ?? [],
            },
        ]),
    );
}

/** The role's attributes as they matter to this declaration (other settings and memberships are not its business). */
function asDeclared(found: RoleAttributes, inputs: AdoptedInputs): RoleAttributes {
    return { ...found, memberOf: found.memberOf.filter((r) => inputs.memberOf.includes(r)).sort() };
}

/**
 * Makes a login role (`found` undefined: CREATE ROLE) or ALTERs the one
 * `found` into the shape a created one has: attributes, limit, the declared
 * settings and memberships, the password when `setPassword`. ALTER names only
 * the attributes that differ: PostgreSQL refuses a non-superuser admin any
 * ALTER that mentions SUPERUSER, REPLICATION or BYPASSRLS, even to keep them
 * off, while CREATE checks only the ones turned on.
 */
export async function shapeRole(
    client: Client,
    inputs: Omit<AdoptedInputs, "connection">,
    found: RoleAttributes | undefined,
    setPassword: boolean,
): Promise<void> {
    const flags = ROLE_FLAGS.filter(([key]) => !found || found[key] !== LOGIN_ROLE_ATTRIBUTES[key]).map(([key, yes, no]) =>
        LOGIN_ROLE_ATTRIBUTES[key] ? yes : no,
    );
    const shape = { name: inputs.name, flags, connectionLimit: inputs.connectionLimit };
    await client.query(shapeRoleStatement(setPassword ? { ...shape, password: inputs.password } : shape, found !== undefined));
    for (const [name, value] of Object.entries(wantedSettings(inputs))) await client.query(setRoleSetting(inputs.name, name, value));
    for (const group of inputs.memberOf) await client.query(grantRole(group, inputs.name));
}

/** The role-wide settings a login role's declaration manages. */
export const ROLE_SETTING_NAMES = ["statement_timeout", "idle_in_transaction_session_timeout"];

async function mustRead(client: Client, name: string): Promise<RoleAttributes> {
    const found = await readRoleAttributes(client, name, ROLE_SETTING_NAMES);
    if (!found) {
        throw new Error(
            `role ${name} does not exist on the server, so it cannot be adopted: remove it from adopt.roles to have it created`,
        );
    }
    return found;
}

export const adoptedRoleProvider: pulumi.dynamic.ResourceProvider<AdoptedInputs, AdoptedState> = {
    async create(inputs) {
        const [before, now] = await withAdminClient(inputs.connection, async (client) => {
            const before = await mustRead(client, inputs.name);
            await shapeRole(client, inputs, before, true);
            return [before, await mustRead(client, inputs.name)];
        });
        return { id: inputs.name, outs: { ...inputs, before: asDeclared(before, inputs), now: asDeclared(now, inputs) } };
    },

    async diff(_id, olds, news) {
        const drifted = attributeChanges(olds.now, wantedAttributes(news)).length > 0;
        const changed =
            drifted ||
            olds.password !== news.password ||
            olds.connection.host !== news.connection.host ||
            olds.connection.port !== news.connection.port;
        return { changes: changed, replaces: olds.name !== news.name ? ["name"] : [], deleteBeforeReplace: true };
    },

    async update(_id, olds, news) {
        const now = await withAdminClient(news.connection, async (client) => {
            const found = await mustRead(client, news.name);
            await shapeRole(client, news, found, olds.password !== news.password);
            return mustRead(client, news.name);
        });
        return { outs: { ...news, before: olds.before, now: asDeclared(now, news) } };
    },

    async read(id, props) {
        if (!props) throw new Error(`AdoptedRole ${id}: nothing to read without prior state`);
        const found = await withAdminClient(props.connection, (client) => readRoleAttributes(client, props.name, ROLE_SETTING_NAMES));
        if (!found) return { id: "", props }; // dropped behind the stack's back
        return { id, props: { ...props, now: asDeclared(found, props) } };
    },

    // The role was there before the stack and stays after it: deleting ends management only.
    async delete() {},
};
/** Served by the package plugin; in a TypeScript program the state stores the line that loads it (servedResource.ts). */
const adoptedRoleProviderModule = served("AdoptedRole", __filename, "adoptedRoleProvider", adoptedRoleProvider);

/** An existing login role brought under management: altered, never created or dropped. */
export class AdoptedRole extends ServedResource {
    // `declare`: a class field would reset what the engine set in super() (ES2022 class fields).
    declare public readonly name: pulumi.Output<string>;

    constructor(name: string, args: AdoptedRoleArgs, opts: pulumi.CustomResourceOptions = {}) {
        super(
            adoptedRoleProviderModule,
            name,
            {
                ...args,
                password: pulumi.secret(args.password),
                memberOf: pulumi.output(args.memberOf ?? []).apply((m) => [...m].sort()),
                before: undefined,
                now: undefined,
            },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["connection", "password"] }),
            "app-databases",
            "AdoptedRole",
        );
    }
}
