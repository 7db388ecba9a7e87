/**
 * RoleSettings: per-role configuration parameters (`ALTER ROLE ... SET`).
 *
 * The postgresql provider manages statement_timeout and
 * idle_in_transaction_session_timeout but not idle_session_timeout
 * (cyrilgdn #559); this dynamic resource sets the parameters it is given and
 * leaves the others alone, so the two never fight over the same setting.
 *
 * Role settings are applied one way: `roleSettingsPlan` says what to set and
 * reset, `applyRoleSettingsPlan` runs it. This resource does so for one role
 * (a RolePair used alone); AppDatabase does so for all its roles from its
 * DatabaseAccess, one dynamic resource per app instead of several, which
 * keeps the state, and the engine's work per step, small.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Client } from "pg";
import { AdminConnection, withAdminClient } from "./adminConnection";
import { served, ServedResource } from "./servedResource";
import { resetRoleSetting, roleSettingsQuery, setRoleSetting } from "./sql/roles";

export interface RoleSettingsArgs {
    /** The admin connection (a secret: it carries the password). */
    readonly connection: pulumi.Input<AdminConnection>;
    /** The role the settings apply to, in every database. */
    readonly role: pulumi.Input<string>;
    /** Parameter name to value, e.g. `{ idle_session_timeout: "600000" }` (ms for time settings). */
    readonly settings: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export interface SettingsInputs {
    connection: AdminConnection;
    role: string;
    settings: Record<string, string>;
}

/** Configuration parameters set on one role, e.g. `{ idle_session_timeout: "600000" }`. */
export interface RoleSettingsEntry {
    readonly role: string;
    /** Only in this database (`ALTER ROLE ... IN DATABASE`), e.g. a search_path. @default every database */
    readonly database?: string;
    readonly settings: Readonly<Record<string, string>>;
}

/** One role's step of a plan: the parameters to set, and those to reset. */
export interface RoleSettingsStep {
    readonly role: string;
    readonly database?: string;
    readonly set: Readonly<Record<string, string>>;
    readonly reset: readonly string[];
}

/**
 * What to run to go from `olds` to `news`: first the resets of what an old
 * entry set that its new entry (if any) no longer does, then every new entry's
 * settings. Parameters neither side names are left alone.
 */
export function roleSettingsPlan(olds: readonly RoleSettingsEntry[], news: readonly RoleSettingsEntry[]): RoleSettingsStep[] {
    const resets = olds.flatMap((old) => {
        const now = news.find((n) => n.role === old.role && n.database === old.database);
        const reset = Object.keys(old.settings).filter((name) => !now || !(name in now.settings));
        return reset.length === 0 ? [] : [{ role: old.role, database: old.database, set: {}, reset }];
    });
    return [...resets, ...news.map((entry) => ({ role: entry.role, database: entry.database, set: entry.settings, reset: [] }))];
}

/** Settings as one comparable string, whatever the order of roles and names. */
export function roleSettingsKey(entries: readonly RoleSettingsEntry[] | undefined): string {
    return JSON.stringify(
        [...(entries ?? [])]
            // Role-wide entries keep the key they had before per-database settings existed.
            .map((e) =>
                e.database === undefined
                    ? [e.role, Object.entries(e.settings).sort()]
                    : [e.role, e.database, Object.entries(e.settings).sort()],
            )
            .sort((a, b) => JSON.stringify(a.slice(0, -1)).localeCompare(JSON.stringify(b.slice(0, -1)))),
    );
}

/** The `name=value` entries of `pg_db_role_setting.setconfig` that `names` lists, as a record. */
export function parseSetconfig(setconfig: readonly string[] | null, names: readonly string[]): Record<string, string> {
    const current: Record<string, string> = {};
    for (const entry of setconfig ?? []) {
        const at = entry.indexOf("=");
        const name = entry.slice(0, at);
        if (names.includes(name)) current[name] = entry.slice(at + 1);
    }
    return current;
}

/** Applies `news` settings; resets what `olds` set that `news` no longer does (on roles that still exist). */
export async function syncRoleSettings(
    client: Client,
    olds: readonly RoleSettingsEntry[],
    news: readonly RoleSettingsEntry[],
): Promise<void> {
    await applyRoleSettingsPlan(client, roleSettingsPlan(olds, news));
}

/**
 * Runs a plan. A reset step of a role that no longer exists is skipped (the
 * role's settings went with it); set steps need their role.
 */
export async function applyRoleSettingsPlan(client: Client, plan: readonly RoleSettingsStep[]): Promise<void> {
    for (const step of plan) {
        const setsNothing = Object.keys(step.set).length === 0;
        if (setsNothing && step.reset.length === 0) continue;
        if (setsNothing && (await readRoleSettings(client, step.role, step.reset, step.database)) === undefined) continue;
        await applyRoleSettings(client, step.role, { ...step.set }, step.reset, step.database);
    }
}

/** Sets `settings` on `role` (in every database, or only in `database`) and resets the parameters named in `removed`. */
export async function applyRoleSettings(
    client: Client,
    role: string,
    settings: Record<string, string>,
    removed: readonly string[],
    database?: string,
): Promise<void> {
    // Every statement made before the first runs: a bad name or value changes nothing.
    const statements = [
        ...Object.entries(settings).map(([name, value]) => setRoleSetting(role, name, value, database)),
        ...removed.map((name) => resetRoleSetting(role, name, database)),
    ];
    for (const statement of statements) await client.query(statement);
}

/**
 * The settings of `role` that `names` lists, role-wide or (with `database`) in
 * that database only; undefined if the role (or the database) does not exist.
 */
export async function readRoleSettings(
    client: Client,
    role: string,
    names: readonly string[],
    database?: string,
): Promise<Record<string, string> | undefined> {
    const found = await client.query<{ setconfig: string[] | null }>(roleSettingsQuery(role, database));
    if (!found.rowCount) return undefined;
    return parseSetconfig(found.rows[0].setconfig, names);
}

/** What RoleSettings' diff reports: a new role replaces it; new settings or another server update it. */
export function roleSettingsDiff(olds: SettingsInputs, news: SettingsInputs): pulumi.dynamic.DiffResult {
    const replaces = olds.role !== news.role ? ["role"] : [];
    const changed =
        replaces.length > 0 ||
        roleSettingsKey([olds]) !== roleSettingsKey([news]) ||
        olds.connection.host !== news.connection.host ||
        olds.connection.port !== news.connection.port;
    return { changes: changed, replaces, deleteBeforeReplace: true };
}

async function apply(olds: SettingsInputs | undefined, news: SettingsInputs): Promise<void> {
    await withAdminClient(news.connection, (client) => syncRoleSettings(client, olds ? [olds] : [], [news]));
}

async function readSettings(connection: AdminConnection, role: string, names: string[]): Promise<Record<string, string> | undefined> {
    return withAdminClient(connection, (client) => readRoleSettings(client, role, names));
}

export const roleSettingsProvider: pulumi.dynamic.ResourceProvider<SettingsInputs, SettingsInputs> = {
    async create(inputs) {
        await apply(undefined, inputs);
        return { id: inputs.role, outs: inputs };
    },
    async diff(_id, olds, news) {
        return roleSettingsDiff(olds, news);
    },
    async update(_id, olds, news) {
        await apply(olds, news);
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
        await apply({ ...props, settings: current }, { ...props, settings: {} });
    },
};
/** Served by the package plugin; in a TypeScript program the state stores the line that loads it (servedResource.ts). */
const roleSettingsProviderModule = served("RoleSettings", __filename, "roleSettingsProvider", roleSettingsProvider);

/** Sets configuration parameters on a role (`ALTER ROLE ... SET`), read back on refresh. */
export class RoleSettings extends ServedResource {
    // `declare`: a class field would reset what the engine set in super() (ES2022 class fields).
    declare public readonly settings: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: RoleSettingsArgs, opts: pulumi.CustomResourceOptions = {}) {
        super(
            roleSettingsProviderModule,
            name,
            args,
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["connection"] }),
            "app-databases",
            "RoleSettings",
        );
    }
}
