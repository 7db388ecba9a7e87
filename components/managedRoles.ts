/**
 * ManagedRoles: the login roles of a RolePair (or of an app's extra roles)
 * that the stack creates and drops, with the passwords it generates for
 * them, in one resource.
 *
 * Earlier versions declared two resources per role: the random provider's
 * RandomPassword and the postgresql provider's Role. Every resource costs the
 * engine a Check and a Diff on each preview and a state write per step, and
 * every secret in the state costs it memory on every write that meets a new
 * one: the engine then encrypts the state's secrets again and caches each new
 * ciphertext for the rest of the run (bench/README.md, "Findings"). Here the
 * passwords are made in the provider and stored as one secret, and each is
 * renewed only when its role's `rotation` changes; any other change leaves
 * them alone.
 *
 * Roles are keyed by slot (`migrate`, `runtime`, `alternate`, or an extra
 * role's name): a slot whose name changes is renamed, a slot that goes is
 * dropped, a slot that comes is created. Dropping is what the postgresql
 * provider's Role did: what the role owns in the maintenance database goes to
 * the admin (REASSIGN OWNED), its grants there and on shared objects go (DROP
 * OWNED), then DROP ROLE; the app's database is dropped before (it depends on
 * the migrate role). Members are made after, and dropped before, the roles of
 * the same resource they are members of.
 *
 * Upgrading a stack that has the provider's Roles: `existingPasswords` (the
 * passwords in its last state) make create take those roles over instead of
 * creating them, keeping the passwords; loginRole.ts keeps the old resources
 * for that `up` so that the engine does not drop the roles.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Client } from "pg";
import { AdminConnection, asRole, inTransaction, withAdminClient } from "./adminConnection";
import {
    attributeChanges,
    readRoleAttributes,
    readRolesAttributes,
    RoleAttributes,
    ROLE_SETTING_NAMES,
    shapeRole,
    wantedAttributes,
} from "./adoptedRole";
import { generatePassword } from "./passwords";

export { generatePassword, PASSWORD_LENGTH } from "./passwords";
import { checkUnderLock, RoleBudget } from "./roleBudgetLock";
import { served, ServedResource } from "./servedResource";
import { CURRENT_USER } from "./sql/quote";
import {
    commentOnRole,
    dropOwned,
    dropRole as dropRoleStatement,
    reassignOwned,
    renameRole,
    revokeRole,
    roleCommentQuery,
} from "./sql/roles";

/** One login role of the resource. */
export interface ManagedRoleSpec {
    /** The role's name on the server. */
    readonly name: string;
    readonly connectionLimit: number;
    /** Bump to give the role a new password; any other change leaves it alone. */
    readonly rotation: number;
    /** Roles it is a member of (INHERIT), exactly: others are revoked. */
    readonly memberOf: readonly string[];
    /** statement_timeout, ms; not set when omitted. */
    readonly statementTimeoutMs?: number;
    /** idle_in_transaction_session_timeout, ms; not set when omitted. */
    readonly idleInTransactionSessionTimeoutMs?: number;
}

export interface ManagedRolesArgs {
    /** The admin connection (a secret: it carries the password). */
    readonly connection: pulumi.Input<AdminConnection>;
    /** The roles by slot. */
    readonly roles: pulumi.Input<Record<string, pulumi.Input<ManagedRoleSpec>>>;
    /**
     * Upgrade only: roles an earlier version made, by slot, with the password
     * each has (secret). Create takes them over and keeps the passwords.
     */
    readonly existingPasswords?: pulumi.Input<Record<string, string> | undefined>;
}

interface ManagedInputs {
    connection: AdminConnection;
    roles: Record<string, ManagedRoleSpec>;
    existingPasswords?: Record<string, string>;
}

interface ManagedState {
    connection: AdminConnection;
    roles: Record<string, ManagedRoleSpec>;
    /** Secret: each role's password, by slot. */
    passwords: Record<string, string>;
    /** The roles as last read from the server, by slot (a dropped one is missing): a difference from the declaration is drift to undo. */
    now: Record<string, RoleAttributes>;
}

/** What differs between a role as read and as declared: attributes, settings and memberships (exactly). */
function drift(now: RoleAttributes, spec: ManagedRoleSpec): string[] {
    const wanted = wantedAttributes({ ...spec, memberOf: [...spec.memberOf] });
    const changes = attributeChanges(now, wanted);
    const leaves = now.memberOf.filter((r) => !wanted.memberOf.includes(r));
    if (leaves.length > 0) changes.push(`member of ${leaves.join(", ")} (revoked)`);
    return changes;
}

/** The slots in an order where each role comes after the roles of the same resource it is a member of. */
export function creationOrder(roles: Readonly<Record<string, ManagedRoleSpec>>): string[] {
    const slotOf = new Map(Object.entries(roles).map(([slot, spec]) => [spec.name, slot]));
    const order: string[] = [];
    const visit = (slot: string, path: readonly string[]) => {
        if (order.includes(slot)) return;
        if (path.includes(slot)) throw new Error(`ManagedRoles: roles ${[...path, slot].join(" -> ")} are members of each other`);
        for (const group of roles[slot].memberOf) {
            const dependency = slotOf.get(group);
            if (dependency !== undefined) visit(dependency, [...path, slot]);
        }
        order.push(slot);
    };
    for (const slot of Object.keys(roles).sort()) visit(slot, []);
    return order;
}

const readRole = (client: Client, name: string) => readRoleAttributes(client, name, ROLE_SETTING_NAMES);

/**
 * Creates the role (`found` undefined) or ALTERs it to the declaration, sets
 * `password` when given, and revokes memberships it does not declare.
 */
async function shape(client: Client, spec: ManagedRoleSpec, found: RoleAttributes | undefined, password?: string): Promise<void> {
    await shapeRole(client, { ...spec, memberOf: [...spec.memberOf], password: password ?? "" }, found, password !== undefined);
    for (const group of found?.memberOf.filter((r) => !spec.memberOf.includes(r)) ?? []) {
        await client.query(revokeRole(group, spec.name));
    }
}

/** Drops a role as the postgresql provider's Role did (see the top of this file); one already gone is fine. */
async function dropRole(client: Client, connection: AdminConnection, name: string): Promise<void> {
    if (!(await readRole(client, name))) return;
    await asRole(client, connection, name, async () => {
        await client.query(reassignOwned(name, CURRENT_USER));
        await client.query(dropOwned(name));
    });
    await client.query(dropRoleStatement(name));
}

/** Each role as the server has it now, by slot (one query); a missing one is left out. */
export async function readAll(client: Client, roles: Readonly<Record<string, ManagedRoleSpec>>): Promise<Record<string, RoleAttributes>> {
    const found = await readRolesAttributes(
        client,
        Object.values(roles).map((spec) => spec.name),
        ROLE_SETTING_NAMES,
    );
    const now: Record<string, RoleAttributes> = {};
    for (const [slot, spec] of Object.entries(roles)) {
        const attributes = found.get(spec.name);
        if (attributes) now[slot] = attributes;
    }
    return now;
}

/** The error for a role to be created that exists already. */
function existsAlready(name: string): Error {
    return new Error(
        `role ${name} exists already on the server: to take it over, name it in adopt.roles (with its password to keep the one it has)`,
    );
}

/** Roles by slot with their passwords: what a resource that makes roles had after its last step. */
export interface RolesHeld {
    readonly roles: Readonly<Record<string, ManagedRoleSpec>>;
    readonly passwords: Readonly<Record<string, string>>;
}

/**
 * Makes the roles of `roles` (by slot) that are missing, renames and ALTERs
 * the rest into their declaration, and gives a role a password when it is
 * made, renamed (a rename clears an MD5 password) or its rotation changed;
 * otherwise it keeps the one in `held`. A role to be made that exists is
 * refused, unless `existingPasswords` has it (the upgrade from an earlier
 * resource: taken over with that password) or it carries `marker` as its
 * comment: a create of the same resource made it and failed half-way (no
 * state, the password lost), and it gets a new password. Each role made gets
 * `marker` as its comment. Drops nothing (see dropGoneRoles). Returns the
 * passwords by slot.
 */
export async function shapeRoles(
    client: Client,
    held: RolesHeld | undefined,
    roles: Readonly<Record<string, ManagedRoleSpec>>,
    existingPasswords: Readonly<Record<string, string>> | undefined,
    marker?: string,
    guard?: { readonly budget: RoleBudget; readonly admin: string; readonly legacyMarker?: string },
): Promise<Record<string, string>> {
    if (guard) await guardBudget(client, held, roles, guard.budget, guard.admin);
    const passwords: Record<string, string> = {};
    for (const slot of creationOrder(roles)) {
        const spec = roles[slot];
        const old = held?.roles[slot];
        const renamed = old !== undefined && old.name !== spec.name;
        if (renamed && (await readRole(client, old.name))) {
            await client.query(renameRole(old.name, spec.name));
        }
        const found = await readRole(client, spec.name);
        const rotate = old !== undefined && old.rotation !== spec.rotation;
        const kept = old && !rotate ? held?.passwords[slot] : undefined;
        const taken = old ? undefined : existingPasswords?.[slot];
        const comment = found && marker !== undefined ? await commentOf(client, spec.name) : undefined;
        const ours = comment !== undefined && (comment === marker || comment === guard?.legacyMarker);
        if (!old && found && taken === undefined && !ours) throw existsAlready(spec.name);
        passwords[slot] = kept ?? taken ?? generatePassword();
        // Kept: set again only on a role made anew (dropped behind the stack's back) or renamed.
        // Taken over: it has that one already. New: always.
        const set = kept !== undefined ? !found || renamed : taken !== undefined ? !found : true;
        await shape(client, spec, found, set ? passwords[slot] : undefined);
        // Made, or marked before with another text (a stack from before the stack's mark): marked now.
        if (marker !== undefined && (!found || comment !== marker)) await client.query(commentOnRole(spec.name, marker));
    }
    return passwords;
}

/**
 * When a role is made or its CONNECTION LIMIT raised: the server-wide lock and
 * the budget under it (roleBudgetLock.ts), in the caller's transaction, before
 * anything changes.
 */
async function guardBudget(
    client: Client,
    held: RolesHeld | undefined,
    roles: Readonly<Record<string, ManagedRoleSpec>>,
    budget: RoleBudget,
    admin: string,
): Promise<void> {
    const oldNames = Object.entries(roles).map(([slot, spec]) => held?.roles[slot]?.name ?? spec.name);
    const found = await readRolesAttributes(client, [...new Set([...Object.values(roles).map((s) => s.name), ...oldNames])], []);
    const described: string[] = [];
    const gone: string[] = [];
    for (const [slot, spec] of Object.entries(roles)) {
        const oldName = held?.roles[slot]?.name;
        const now = found.get(spec.name) ?? (oldName ? found.get(oldName) : undefined);
        if (oldName && oldName !== spec.name) gone.push(oldName);
        if (!now) described.push(`create ${spec.name} (CONNECTION LIMIT ${spec.connectionLimit})`);
        else if (now.connectionLimit < 0 || now.connectionLimit < spec.connectionLimit)
            described.push(`raise ${spec.name} (CONNECTION LIMIT ${now.connectionLimit} -> ${spec.connectionLimit})`);
    }
    if (described.length === 0) return; // nothing grows: no lock needed
    const changes = Object.fromEntries(Object.values(roles).map((spec) => [spec.name, spec.connectionLimit]));
    await checkUnderLock(client, budget, changes, gone, admin, described);
}

/** A role's comment (`\du+`), or undefined. */
async function commentOf(client: Client, name: string): Promise<string | undefined> {
    return (await client.query<{ comment: string | null }>(roleCommentQuery(name))).rows[0]?.comment ?? undefined;
}

/** Drops the roles of `olds` whose slot `news` lacks, members first. */
export async function dropGoneRoles(
    client: Client,
    connection: AdminConnection,
    olds: Readonly<Record<string, ManagedRoleSpec>>,
    news: Readonly<Record<string, ManagedRoleSpec>>,
): Promise<void> {
    for (const slot of creationOrder(olds).reverse()) {
        if (!(slot in news)) await dropRole(client, connection, olds[slot].name);
    }
}

/**
 * Whether the declared roles differ from the ones held: a slot that comes or
 * goes, a new name or rotation, or drift from the declaration in `now`
 * (the roles as last read).
 */
export function rolesChanged(
    olds: Readonly<Record<string, ManagedRoleSpec>>,
    now: Readonly<Record<string, RoleAttributes>>,
    news: Readonly<Record<string, ManagedRoleSpec>>,
): boolean {
    const slots = new Set([...Object.keys(olds), ...Object.keys(news)]);
    return [...slots].some((slot) => {
        const old = olds[slot];
        const spec = news[slot];
        const found = now[slot];
        return !old || !spec || !found || old.name !== spec.name || old.rotation !== spec.rotation || drift(found, spec).length > 0;
    });
}

export const managedRolesProvider: pulumi.dynamic.ResourceProvider<ManagedInputs, ManagedState> = {
    async create(inputs) {
        const { passwords, now } = await withAdminClient(inputs.connection, async (client) => {
            const passwords = await inTransaction(client, () => shapeRoles(client, undefined, inputs.roles, inputs.existingPasswords));
            return { passwords, now: await readAll(client, inputs.roles) };
        });
        return {
            id: Object.values(inputs.roles)[0]?.name ?? "roles",
            outs: { connection: inputs.connection, roles: inputs.roles, passwords, now },
        };
    },

    async diff(_id, olds, news) {
        const changed =
            rolesChanged(olds.roles, olds.now, news.roles) ||
            olds.connection.host !== news.connection.host ||
            olds.connection.port !== news.connection.port;
        return { changes: changed };
    },

    async update(_id, olds, news) {
        const { passwords, now } = await withAdminClient(news.connection, async (client) => {
            const passwords = await inTransaction(client, async () => {
                // Gone from the declaration: dropped first, members first.
                await dropGoneRoles(client, news.connection, olds.roles, news.roles);
                return shapeRoles(client, olds, news.roles, news.existingPasswords);
            });
            return { passwords, now: await readAll(client, news.roles) };
        });
        return { outs: { connection: news.connection, roles: news.roles, passwords, now } };
    },

    async read(id, props) {
        if (!props) throw new Error(`ManagedRoles ${id}: nothing to read without prior state`);
        const now = await withAdminClient(props.connection, (client) => readAll(client, props.roles));
        // A role dropped behind the stack's back is missing from `now`: the next up makes it again, with its password.
        return { id, props: { ...props, now } };
    },

    async delete(_id, props) {
        await withAdminClient(props.connection, (client) => inTransaction(client, () => dropRoles(client, props.connection, props.roles)));
    },
};

/** Drops every role of `roles`, members first; one already gone is fine. */
export async function dropRoles(
    client: Client,
    connection: AdminConnection,
    roles: Readonly<Record<string, ManagedRoleSpec>>,
): Promise<void> {
    for (const slot of creationOrder(roles).reverse()) await dropRole(client, connection, roles[slot].name);
}

/** The roles with their memberships sorted as the server reads them back: no false diffs. */
export function sortedMemberships(
    roles: pulumi.Input<Record<string, pulumi.Input<ManagedRoleSpec>>>,
): pulumi.Output<Record<string, ManagedRoleSpec>> {
    return pulumi
        .output(roles)
        .apply((all) =>
            Object.fromEntries(Object.entries(all).map(([slot, spec]) => [slot, { ...spec, memberOf: [...spec.memberOf].sort() }])),
        );
}

/** Served by the package plugin; in a TypeScript program the state stores the line that loads it (servedResource.ts). */
const managedRolesProviderModule = served("ManagedRoles", __filename, "managedRolesProvider", managedRolesProvider);

/** Login roles created and dropped by the stack, by slot, with their generated passwords (`passwords`, one secret). */
export class ManagedRoles extends ServedResource {
    // `declare`: a class field would reset what the engine set in super() (ES2022 class fields).
    declare public readonly roles: pulumi.Output<Record<string, ManagedRoleSpec>>;
    /** Secret: each role's password, by slot. */
    declare public readonly passwords: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: ManagedRolesArgs, opts: pulumi.CustomResourceOptions = {}) {
        super(
            managedRolesProviderModule,
            name,
            {
                ...args,
                roles: sortedMemberships(args.roles),
                passwords: undefined,
                now: undefined,
            },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["connection", "passwords", "existingPasswords"] }),
            "app-databases",
            "ManagedRoles",
        );
    }

    /** The name of the role in `slot`, from this resource (so that what uses it depends on it). */
    nameOf(slot: string): pulumi.Output<string> {
        return this.roles.apply((roles) => roles[slot].name);
    }

    /** The password of the role in `slot` (secret). */
    passwordOf(slot: string): pulumi.Output<string> {
        return pulumi.secret(this.passwords.apply((passwords) => passwords[slot]));
    }
}
