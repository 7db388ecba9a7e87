/**
 * DataMove: an app's data carried from its old database to its new one when
 * the app moves to another server or placement. Created after the new
 * database and roles; its create runs the copy (databaseCopy.ts) and records
 * the verification report in its outputs.
 *
 * Writers: `cutover` (the default) blocks new logins of the app's roles on the
 * old database and ends their sessions just before the snapshot, so every
 * write is carried; `keep` takes the snapshot while the old database stays
 * writable (writes after it are not carried) and blocks the logins after the
 * copy. Either way the old database is kept, with CONNECT revoked from the
 * app's roles, and nothing of it is ever dropped by this resource: its delete
 * forgets the move only. A copy that fails gives the roles their CONNECT
 * back, so the old database goes on serving.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Client } from "pg";
import { AdminConnection, quoteIdent, withAdminClient } from "./adminConnection";
import { copyDatabase, CopyEndpoint, CopyReport } from "./databaseCopy";
import { DEFAULT_MOVE_WRITERS, MoveWriters } from "./defaults";
import { served, ServedResource } from "./servedResource";

/** One end of a move: the server's key, its admin connection, and the app's database there. */
export interface MoveEnd {
    readonly server: string;
    readonly connection: AdminConnection;
    readonly database: string;
}

export interface DataMoveInputs {
    readonly app: string;
    readonly from: MoveEnd;
    readonly to: MoveEnd;
    /** The app's migrate role: owner of the objects on both ends. */
    readonly ownerRole: string;
    /** The app's login roles on the old server, blocked from the old database. */
    readonly roles: readonly string[];
    readonly writers: MoveWriters;
    /** Directory of pg_dump, pg_restore and psql, of a major at least both servers'. */
    readonly clientBin: string;
}

export interface DataMoveOutputs extends DataMoveInputs {
    /** The verification report (no secrets). */
    readonly report: CopyReport;
    /** When the copy was verified (ISO time). */
    readonly movedAt: string;
}

/** The side of a copy an admin connection reaches. */
export function copyEndpoint(end: MoveEnd): CopyEndpoint {
    const c = end.connection;
    return {
        host: c.host,
        port: c.port,
        user: c.username,
        password: c.password,
        database: end.database,
        sslmode: c.sslmode,
        ...(c.sslrootcert ? { sslrootcert: c.sslrootcert } : {}),
        connectTimeoutSeconds: c.connectTimeoutSeconds,
    };
}

/** Where a move goes from and to: what identifies it (credentials and tools may change, the move stays the same). */
export function moveIdentity(m: Pick<DataMoveInputs, "app" | "from" | "to">): string {
    const end = (e: MoveEnd) => `${e.server}:${e.connection.host}:${e.connection.port}/${e.database}`;
    return `${m.app} ${end(m.from)} -> ${end(m.to)}`;
}

/** The roles among `roles` that have CONNECT on `database` by a grant of their own. */
export async function rolesWithConnect(client: Client, database: string, roles: readonly string[]): Promise<string[]> {
    const { rows } = await client.query<{ role: string }>(
        `SELECT r.rolname AS role FROM pg_catalog.pg_roles r, pg_catalog.pg_database d,
                LATERAL pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
          WHERE d.datname = $1 AND a.grantee = r.oid AND a.privilege_type = 'CONNECT' AND r.rolname = ANY($2)`,
        [database, [...roles]],
    );
    return rows.map((r) => r.role);
}

export function revokeConnectSql(database: string, roles: readonly string[]): string {
    return `REVOKE CONNECT ON DATABASE ${quoteIdent(database)} FROM ${roles.map(quoteIdent).join(", ")}`;
}

export function grantConnectSql(database: string, roles: readonly string[]): string {
    return `GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO ${roles.map(quoteIdent).join(", ")}`;
}

/** Ends the sessions of `roles` on `database`; resolves to how many. */
async function endSessions(client: Client, database: string, roles: readonly string[]): Promise<number> {
    const { rows } = await client.query<{ n: string }>(
        "SELECT count(pg_catalog.pg_terminate_backend(pid))::text AS n FROM pg_catalog.pg_stat_activity WHERE datname = $1 AND usename = ANY($2) AND pid <> pg_backend_pid()",
        [database, [...roles]],
    );
    return Number(rows[0].n);
}

async function blockLogins(m: DataMoveInputs, endThem: boolean): Promise<string[]> {
    return withAdminClient(m.from.connection, async (client) => {
        const had = await rolesWithConnect(client, m.from.database, m.roles);
        if (had.length > 0) await client.query(revokeConnectSql(m.from.database, had));
        if (endThem) await endSessions(client, m.from.database, m.roles);
        return had;
    });
}

export async function runMove(m: DataMoveInputs, log: (line: string) => void = () => undefined): Promise<DataMoveOutputs> {
    let blocked: string[] = [];
    try {
        const report = await copyDatabase({
            source: copyEndpoint(m.from),
            target: copyEndpoint(m.to),
            ownerRole: m.ownerRole,
            sourceOwnerRole: m.ownerRole,
            clientBin: m.clientBin,
            log,
            // Cutover: after every check passed, before the snapshot.
            ...(m.writers === "cutover" ? { beforeSnapshot: async () => void (blocked = await blockLogins(m, true)) } : {}),
        });
        if (m.writers === "keep") await blockLogins(m, false);
        return { ...m, report, movedAt: new Date().toISOString() };
    } catch (err) {
        // The old database goes on serving: the logins blocked for the cutover come back.
        if (blocked.length > 0) {
            await withAdminClient(m.from.connection, (client) => client.query(grantConnectSql(m.from.database, blocked))).catch(
                () => undefined,
            );
        }
        throw new Error(
            `apps.${m.app}: moving the data from ${m.from.server} to ${m.to.server} failed, and the old database ${m.from.database} on ` +
                `${m.from.server} is as it was (still serving; the stack's outputs still point at it): ${(err as Error).message}. ` +
                "Fix that and run `pulumi up` again: the copy starts over into the new database, which nothing has written to. " +
                `To give the move up, set apps.${m.app} back to ${m.from.server} and remove allowMoveFrom.`,
        );
    }
}

/** Without the serialized provider the engine adds to a dynamic resource's inputs and state. */
const withoutProvider = <T extends object>(state: T): T =>
    Object.fromEntries(Object.entries(state).filter(([key]) => key !== "__provider")) as T;

export const dataMoveProvider: pulumi.dynamic.ResourceProvider<DataMoveInputs, DataMoveOutputs> = {
    async create(inputs) {
        const outs = await runMove(withoutProvider(inputs));
        return { id: `${inputs.app}:${inputs.from.server}->${inputs.to.server}`, outs };
    },
    async diff(_id, olds, news) {
        // Only another source or target is another move; new passwords or tools are not.
        const other = moveIdentity(olds) !== moveIdentity(news);
        return { changes: other || olds.writers !== news.writers, replaces: other ? ["from", "to"] : [], deleteBeforeReplace: true };
    },
    async update(_id, olds, news) {
        return { outs: { ...olds, ...withoutProvider(news), report: olds.report, movedAt: olds.movedAt } };
    },
    async delete() {
        // The old database stays where it is: retiring it is the user's explicit step (README).
    },
};

export interface DataMoveArgs {
    readonly app: string;
    readonly from: pulumi.Input<MoveEnd>;
    readonly to: pulumi.Input<MoveEnd>;
    readonly ownerRole: pulumi.Input<string>;
    readonly roles: readonly string[];
    /** @default "cutover" */
    readonly writers?: MoveWriters;
    readonly clientBin: string;
}

const dataMoveProviderModule = served("DataMove", __filename, "dataMoveProvider", dataMoveProvider);

export class DataMove extends ServedResource {
    /** The verification report, once the copy is done. */
    declare public readonly report: pulumi.Output<CopyReport>;
    declare public readonly movedAt: pulumi.Output<string>;

    constructor(name: string, args: DataMoveArgs, opts: pulumi.CustomResourceOptions = {}) {
        super(
            dataMoveProviderModule,
            name,
            { ...args, writers: args.writers ?? DEFAULT_MOVE_WRITERS, report: undefined, movedAt: undefined },
            // The connections carry admin passwords.
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["from", "to"] }),
            "app-databases",
            "DataMove",
        );
    }
}
