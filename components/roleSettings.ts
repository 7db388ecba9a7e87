/**
 * RoleSettings: per-role configuration parameters (`ALTER ROLE ... SET`).
 *
 * The postgresql provider manages statement_timeout and
 * idle_in_transaction_session_timeout but not idle_session_timeout
 * (cyrilgdn #559); this dynamic resource sets the parameters it is given and
 * leaves the others alone, so the two never fight over the same setting.
 * AppDatabase does not use it: it applies the same SQL (applyRoleSettings)
 * from its DatabaseAccess, one dynamic resource per app instead of several,
 * which keeps the state, and the engine's work per step, small.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Client } from "pg";
import { AdminConnection, quoteIdent, withAdminClient } from "./adminConnection";

export interface RoleSettingsArgs {
    /** The admin connection (a secret: it carries the password). */
    readonly connection: pulumi.Input<AdminConnection>;
    /** The role the settings apply to, in every database. */
    readonly role: pulumi.Input<string>;
    /** Parameter name to value, e.g. `{ idle_session_timeout: "600000" }` (ms for time settings). */
    readonly settings: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

interface SettingsInputs {
    connection: AdminConnection;
    role: string;
    settings: Record<string, string>;
}

const PARAMETER_NAME = /^[a-z_][a-z0-9_.]*$/;

function assertNames(names: readonly string[]): void {
    for (const name of names) {
        if (!PARAMETER_NAME.test(name)) throw new Error(`RoleSettings: invalid parameter name ${JSON.stringify(name)}`);
    }
}

/** Sets `settings` on `role` in every database and resets the parameters named in `removed`. */
export async function applyRoleSettings(
    client: Client,
    role: string,
    settings: Record<string, string>,
    removed: readonly string[],
): Promise<void> {
    assertNames([...Object.keys(settings), ...removed]);
    const quoted = quoteIdent(role);
    for (const [name, value] of Object.entries(settings)) {
        // Values cannot be bound parameters in ALTER ROLE; quote them as literals.
        await client.query(`ALTER ROLE ${quoted} SET ${name} = ${client.escapeLiteral(value)}`);
    }
    for (const name of removed) await client.query(`ALTER ROLE ${quoted} RESET ${name}`);
}

/** The role-wide (any database) settings of `role` that `names` lists; undefined if the role does not exist. */
export async function readRoleSettings(
    client: Client,
    role: string,
    names: readonly string[],
): Promise<Record<string, string> | undefined> {
    const found = await client.query<{ setconfig: string[] | null }>(
        `SELECT s.setconfig FROM pg_roles r
           LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = 0
          WHERE r.rolname = $1`,
        [role],
    );
    if (!found.rowCount) return undefined;
    const current: Record<string, string> = {};
    for (const entry of found.rows[0].setconfig ?? []) {
        const at = entry.indexOf("=");
        const name = entry.slice(0, at);
        if (names.includes(name)) current[name] = entry.slice(at + 1);
    }
    return current;
}

async function apply(inputs: SettingsInputs, removed: string[]): Promise<void> {
    await withAdminClient(inputs.connection, (client) => applyRoleSettings(client, inputs.role, inputs.settings, removed));
}

async function readSettings(connection: AdminConnection, role: string, names: string[]): Promise<Record<string, string> | undefined> {
    return withAdminClient(connection, (client) => readRoleSettings(client, role, names));
}

const roleSettingsProvider: pulumi.dynamic.ResourceProvider<SettingsInputs, SettingsInputs> = {
    async create(inputs) {
        await apply(inputs, []);
        return { id: inputs.role, outs: inputs };
    },
    async diff(_id, olds, news) {
        const replaces = olds.role !== news.role ? ["role"] : [];
        const changed =
            replaces.length > 0 ||
            JSON.stringify(Object.entries(olds.settings).sort()) !== JSON.stringify(Object.entries(news.settings).sort()) ||
            olds.connection.host !== news.connection.host ||
            olds.connection.port !== news.connection.port;
        return { changes: changed, replaces, deleteBeforeReplace: true };
    },
    async update(_id, olds, news) {
        await apply(
            news,
            Object.keys(olds.settings).filter((n) => !(n in news.settings)),
        );
        return { outs: news };
    },
    async read(id, props) {
        if (!props) throw new Error(`RoleSettings ${id}: nothing to read without prior state`);
        const current = await readSettings(props.connection, props.role, Object.keys(props.settings));
        return current === undefined ? { id: "", props } : { id, props: { ...props, settings: current } };
    },
    async delete(_id, props) {
        const current = await readSettings(props.connection, props.role, Object.keys(props.settings));
        if (current === undefined) return; // role already dropped
        await apply({ ...props, settings: {} }, Object.keys(current));
    },
};

/** Sets configuration parameters on a role (`ALTER ROLE ... SET`), read back on refresh. */
export class RoleSettings extends pulumi.dynamic.Resource {
    public readonly settings!: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: RoleSettingsArgs, opts: pulumi.CustomResourceOptions = {}) {
        super(
            roleSettingsProvider,
            name,
            args,
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["connection"] }),
            "app-databases",
            "RoleSettings",
        );
    }
}
