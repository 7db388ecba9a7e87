/**
 * RoleSettings: per-role configuration parameters (`ALTER ROLE ... SET`).
 *
 * The postgresql provider manages statement_timeout and
 * idle_in_transaction_session_timeout but not idle_session_timeout
 * (cyrilgdn #559); this dynamic resource sets the parameters it is given and
 * leaves the others alone, so the two never fight over the same setting.
 */
import * as pulumi from "@pulumi/pulumi";
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

function assertNames(settings: Record<string, string>): void {
    for (const name of Object.keys(settings)) {
        if (!PARAMETER_NAME.test(name)) throw new Error(`RoleSettings: invalid parameter name ${JSON.stringify(name)}`);
    }
}

async function apply(inputs: SettingsInputs, removed: string[]): Promise<void> {
    assertNames(inputs.settings);
    await withAdminClient(inputs.connection, async (client) => {
        const role = quoteIdent(inputs.role);
        for (const [name, value] of Object.entries(inputs.settings)) {
            // Values cannot be bound parameters in ALTER ROLE; quote them as literals.
            await client.query(`ALTER ROLE ${role} SET ${name} = ${client.escapeLiteral(value)}`);
        }
        for (const name of removed) await client.query(`ALTER ROLE ${role} RESET ${name}`);
    });
}

/** Reads the role-wide (any database) settings that `names` lists. */
async function readSettings(connection: AdminConnection, role: string, names: string[]): Promise<Record<string, string> | undefined> {
    return withAdminClient(connection, async (client) => {
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
    });
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
