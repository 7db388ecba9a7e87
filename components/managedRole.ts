/**
 * ManagedRole: a login role this stack creates and drops, with the password
 * it generates for it, in one resource.
 *
 * Earlier versions declared two per role: the random provider's
 * RandomPassword and the postgresql provider's Role. Every resource costs the
 * engine a Check and a Diff on each preview and a state rewrite per step, and
 * each of those held the password three times over as ciphertexts the engine
 * caches for the run (bench/README.md). Here the password is made in the
 * provider, stored once (a secret output), and renewed only when `rotation`
 * changes; any other change leaves it alone.
 *
 * Deleting drops the role as the postgresql provider's Role did: what it owns
 * in the maintenance database goes to the admin (REASSIGN OWNED), its grants
 * there and on shared objects go (DROP OWNED), then DROP ROLE. The app's
 * database is dropped before (it depends on the migrate role).
 *
 * Upgrading a stack that has the provider's Role: `existingPassword` (the
 * password in its last state) makes create take the role over instead of
 * creating it, keeping the password; loginRole.ts keeps the old resources
 * for that `up` so the engine does not drop the role.
 */
import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { Client } from "pg";
import { AdminConnection, asRole, quoteIdent, withAdminClient } from "./adminConnection";
import { attributeChanges, readRoleAttributes, RoleAttributes, ROLE_SETTING_NAMES, shapeRole, wantedAttributes } from "./adoptedRole";
import { served, ServedResource } from "./servedResource";

/** Long enough for any attacker, alphanumeric so it needs no escaping in URLs or shells. */
export const PASSWORD_LENGTH = 40;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * A password of `length` characters from the 62 alphanumerics, uniformly
 * (bytes of 248 and above are skipped: 248 = 4 × 62), with at least one lower
 * case letter, one upper case letter and one digit, as the RandomPassword
 * earlier versions used was asked for.
 */
export function generatePassword(length: number = PASSWORD_LENGTH): string {
    for (;;) {
        let out = "";
        for (const byte of crypto.randomBytes(length * 2)) {
            if (byte < 248) out += ALPHABET[byte % ALPHABET.length];
            if (out.length === length) break;
        }
        if (out.length === length && /[a-z]/.test(out) && /[A-Z]/.test(out) && /[0-9]/.test(out)) return out;
    }
}

export interface ManagedRoleArgs {
    /** The admin connection (a secret: it carries the password). */
    readonly connection: pulumi.Input<AdminConnection>;
    /** The role's name on the server. */
    readonly name: string;
    readonly connectionLimit: number;
    /** Bump to give the role a new password; any other change leaves it alone. */
    readonly rotation: number;
    /** Roles it is a member of (INHERIT), exactly: others are revoked. @default none */
    readonly memberOf?: pulumi.Input<pulumi.Input<string>[]>;
    /** statement_timeout, ms; not set when omitted. */
    readonly statementTimeoutMs?: number;
    /** idle_in_transaction_session_timeout, ms; not set when omitted. */
    readonly idleInTransactionSessionTimeoutMs?: number;
    /**
     * Upgrade only: the role exists, made by an earlier version, with this
     * password (secret). Create takes it over and keeps the password.
     */
    readonly existingPassword?: pulumi.Input<string | undefined>;
}

interface ManagedInputs {
    connection: AdminConnection;
    name: string;
    connectionLimit: number;
    rotation: number;
    memberOf: string[];
    statementTimeoutMs?: number;
    idleInTransactionSessionTimeoutMs?: number;
    existingPassword?: string;
}

interface ManagedState extends Omit<ManagedInputs, "existingPassword"> {
    /** Secret. */
    password: string;
    /** The role as last read from the server: refresh updates it, and a difference from the declaration is drift to undo. */
    now: RoleAttributes;
}

/** What differs between the role as read and as declared: attributes, settings and memberships (exactly). */
function drift(now: RoleAttributes, inputs: ManagedInputs): string[] {
    const wanted = wantedAttributes(inputs);
    const changes = attributeChanges(now, wanted);
    const leaves = now.memberOf.filter((r) => !wanted.memberOf.includes(r));
    if (leaves.length > 0) changes.push(`member of ${leaves.join(", ")} (revoked)`);
    return changes;
}

async function mustRead(client: Client, name: string): Promise<RoleAttributes> {
    const found = await readRoleAttributes(client, name, ROLE_SETTING_NAMES);
    if (!found) throw new Error(`role ${name} is not on the server after it was created or altered`);
    return found;
}

/** Runs `work` in a transaction: a role is never left half made. */
async function inTransaction<T>(client: Client, work: () => Promise<T>): Promise<T> {
    await client.query("BEGIN");
    try {
        const result = await work();
        await client.query("COMMIT");
        return result;
    } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
    }
}

/**
 * Creates the role (`found` undefined) or ALTERs it to the declaration, sets
 * `password` when given, and revokes memberships it does not declare.
 */
async function shape(client: Client, inputs: ManagedInputs, found: RoleAttributes | undefined, password?: string): Promise<void> {
    await shapeRole(client, { ...inputs, password: password ?? "" }, found, password !== undefined);
    for (const group of found?.memberOf.filter((r) => !inputs.memberOf.includes(r)) ?? []) {
        await client.query(`REVOKE ${quoteIdent(group)} FROM ${quoteIdent(inputs.name)}`);
    }
}

function stateOf(inputs: ManagedInputs, password: string, now: RoleAttributes): ManagedState {
    const { existingPassword: _taken, ...declared } = inputs;
    return { ...declared, password, now };
}

export const managedRoleProvider: pulumi.dynamic.ResourceProvider<ManagedInputs, ManagedState> = {
    async create(inputs) {
        const taken = inputs.existingPassword;
        const password = taken ?? generatePassword();
        const now = await withAdminClient(inputs.connection, async (client) => {
            const found = await readRoleAttributes(client, inputs.name, ROLE_SETTING_NAMES);
            if (found && taken === undefined) {
                throw new Error(
                    `role ${inputs.name} exists already on the server: to take it over, name it in adopt.roles ` +
                        "(with its password to keep the one it has)",
                );
            }
            // Taken over (found): it keeps its password, the one the stack had for it.
            await inTransaction(client, () => shape(client, inputs, found, found ? undefined : password));
            return mustRead(client, inputs.name);
        });
        return { id: inputs.name, outs: stateOf(inputs, password, now) };
    },

    async diff(_id, olds, news) {
        const changed =
            olds.rotation !== news.rotation ||
            olds.name !== news.name ||
            drift(olds.now, news).length > 0 ||
            olds.connection.host !== news.connection.host ||
            olds.connection.port !== news.connection.port;
        return { changes: changed };
    },

    async update(id, olds, news) {
        const password = olds.rotation !== news.rotation ? generatePassword() : olds.password;
        const now = await withAdminClient(news.connection, async (client) => {
            await inTransaction(client, async () => {
                if (olds.name !== news.name) await client.query(`ALTER ROLE ${quoteIdent(olds.name)} RENAME TO ${quoteIdent(news.name)}`);
                const found = await readRoleAttributes(client, news.name, ROLE_SETTING_NAMES);
                if (!found)
                    throw new Error(`role ${news.name} is not on the server: \`pulumi refresh\` forgets it, and the next up creates it`);
                // A rename clears an MD5 password: set it again then too.
                await shape(client, news, found, password !== olds.password || olds.name !== news.name ? password : undefined);
            });
            return mustRead(client, news.name);
        });
        return { outs: stateOf(news, password, now) };
    },

    async read(id, props) {
        if (!props) throw new Error(`ManagedRole ${id}: nothing to read without prior state`);
        const found = await withAdminClient(props.connection, (client) => readRoleAttributes(client, props.name, ROLE_SETTING_NAMES));
        if (!found) return { id: "", props }; // dropped behind the stack's back: the next up creates it again
        return { id, props: { ...props, now: found } };
    },

    async delete(_id, props) {
        await withAdminClient(props.connection, async (client) => {
            if (!(await readRoleAttributes(client, props.name, ROLE_SETTING_NAMES))) return;
            const role = quoteIdent(props.name);
            await inTransaction(client, async () => {
                await asRole(client, props.connection, props.name, async () => {
                    await client.query(`REASSIGN OWNED BY ${role} TO CURRENT_USER`);
                    await client.query(`DROP OWNED BY ${role}`);
                });
                await client.query(`DROP ROLE ${role}`);
            });
        });
    },
};

/** Served by the package plugin; in a TypeScript program the state stores the line that loads it (servedResource.ts). */
const managedRoleProviderModule = served("ManagedRole", __filename, "managedRoleProvider", managedRoleProvider);

/** A login role created and dropped by the stack, with its generated password (`password`, secret). */
export class ManagedRole extends ServedResource {
    // `declare`: a class field would reset what the engine set in super() (ES2022 class fields).
    declare public readonly name: pulumi.Output<string>;
    /** Secret. */
    declare public readonly password: pulumi.Output<string>;

    constructor(name: string, args: ManagedRoleArgs, opts: pulumi.CustomResourceOptions = {}) {
        super(
            managedRoleProviderModule,
            name,
            {
                ...args,
                memberOf: pulumi.output(args.memberOf ?? []).apply((m) => [...m].sort()),
                password: undefined,
                now: undefined,
            },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["connection", "password", "existingPassword"] }),
            "app-databases",
            "ManagedRole",
        );
    }
}
