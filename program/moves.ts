/**
 * Moves that carry the data: an app whose `allowMoveFrom` names the server
 * the last `up` had it on (or a move this stack made and still records) is
 * copied there by a DataMove, and its old database is kept, frozen as the
 * last `up` left it, until the user removes `allowMoveFrom` (README: "Moving
 * an app between placements").
 */
import * as pulumi from "@pulumi/pulumi";
import { withAdminClient } from "../components/adminConnection";
import { AppDatabase } from "../components/appDatabase";
import { DataMove } from "../components/dataMove";
import type { PriorResource } from "../components/priorState";
import type { PostgresServer } from "../components/sharedServer";
import { ResolvedApp, StackConfig } from "./config";
import { adminConnectionOf, appDatabaseArgs } from "./componentArgs";
import { footprintOf, roleNamesOf } from "./footprint";
import { appAtLastUp } from "./dedicatedState";
import { findClientBin, INSTALL_CLIENT_TOOLS } from "./clientTools";

/** One move the stack carries out (or holds, done). */
export interface PlannedMove {
    readonly app: ResolvedApp;
    /** The server the app leaves: a `servers` key. */
    readonly from: string;
    /** The app's database there. */
    readonly database: string;
    /** Whether an earlier `up` finished it (the old copy is kept and blocked). */
    readonly done: boolean;
}

/** What the stack's `moves` output records of a finished move. */
export interface MoveRecord {
    readonly from: string;
    readonly to: string;
    readonly database: string;
    readonly writers: string;
    readonly movedAt: string;
    readonly tables: number;
    readonly rows: number;
    readonly sourceBytes: number;
    readonly verification: string;
}

/** The `moves` entry of the last up for an app, if any (it holds no secrets). */
export function moveAtLastUp(previous: Readonly<Record<string, unknown>> | undefined, app: string): Partial<MoveRecord> | undefined {
    const moves = previous?.moves as Record<string, unknown> | undefined;
    const entry = moves && typeof moves === "object" ? moves[app] : undefined;
    return entry && typeof entry === "object" ? entry : undefined;
}

/**
 * The moves of this `up`, and the problems that refuse one before anything
 * is applied: the old server must stay in `servers` (the data is copied from
 * it and its database kept there), a dedicated container's data is not
 * carried yet, and a move keeps the database's name.
 */
export function plannedMoves(
    config: StackConfig,
    previous: Readonly<Record<string, unknown>> | undefined,
): { moves: PlannedMove[]; problems: string[] } {
    const moves: PlannedMove[] = [];
    const problems: string[] = [];
    for (const app of Object.values(config.apps)) {
        const from = app.allowMoveFrom;
        if (!from || from === app.server) continue;
        const record = moveAtLastUp(previous, app.name);
        const last = appAtLastUp(previous, app.name);
        const done = record?.from === from && record.to === app.server;
        const lived = last?.server === from;
        if (!done && !lived) continue; // nothing of the app there: an acknowledgement with nothing to carry
        const named = done ? record.database : last?.database;
        const database = typeof named === "string" ? named : app.database;
        if (!(from in config.servers)) {
            problems.push(
                from === `dedicated-${app.name}`
                    ? `apps.${app.name} moves off its dedicated container ${from}: carrying the data off a dedicated container is not supported yet. ` +
                          `Keep apps.${app.name} dedicated, or copy the data by hand (README: "Moving an app between placements")`
                    : `apps.${app.name}.allowMoveFrom: ${from}: the server ${from} must stay in servers until the move is retired: ` +
                          "the data is copied from it and its database is kept there",
            );
            continue;
        }
        if (database !== app.database) {
            problems.push(
                `apps.${app.name} moves from ${from} to ${app.server} and its database changes from ${database} to ${app.database}: ` +
                    `a move keeps the database's name. Set apps.${app.name}.database: ${database} for the move`,
            );
            continue;
        }
        moves.push({ app, from, database, done });
    }
    return { moves, problems };
}

/** The client tools for a copy; throws saying how to install them. */
export function moveClientBin(env: NodeJS.ProcessEnv = process.env): string {
    const bin = findClientBin(env);
    if (!bin) {
        throw new Error(
            `a move copies the data with pg_dump, pg_restore and psql, and no client tools were found: ${INSTALL_CLIENT_TOOLS}`,
        );
    }
    return bin;
}

/** The outputs of an app that change with a move. */
export const MOVED_OUTPUTS = [
    "placement",
    "server",
    "host",
    "port",
    "internalHost",
    "runtimeUrl",
    "migrateUrl",
    "internalRuntimeUrl",
    "extraRoleUrls",
];

/** What the preview says of a move about to be made. */
export function moveNotice(move: PlannedMove, bytes: number | undefined, roles: readonly string[]): string {
    const size = bytes === undefined ? "size unknown" : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
    const writers =
        move.app.moveWriters === "cutover"
            ? `cutover: just before the snapshot, new logins of ${roles.join(", ")} to ${move.database} on ${move.from} are blocked and their sessions ended`
            : `keep: the old database stays writable during the copy, and writes after the snapshot are NOT carried; logins of ${roles.join(", ")} are blocked after the copy`;
    return (
        `apps.${move.app.name} moves from ${move.from} to ${move.app.server}: the up copies database ${move.database} (${size}) ` +
        `into a new database there, verifies row counts, checksums and sequences, then switches the outputs (${MOVED_OUTPUTS.join(", ")}). ` +
        `Writers: ${writers}. The old database is kept on ${move.from}, CONNECT revoked from the app's roles, until you remove apps.${move.app.name}.allowMoveFrom.`
    );
}

/** The old database's size, read for the preview; undefined when the server cannot say. */
export async function databaseBytes(config: StackConfig, move: PlannedMove): Promise<number | undefined> {
    try {
        return await withAdminClient(adminConnectionOf(config.servers[move.from]), async (client) => {
            const { rows } = await client.query<{ n: string }>("SELECT pg_database_size($1)::text AS n", [move.database]);
            return Number(rows[0].n);
        });
    } catch {
        return undefined;
    }
}

/** Logs each move about to be made, with its size. */
export async function announceMoves(
    config: StackConfig,
    moves: readonly PlannedMove[],
    rolesOf: (app: ResolvedApp) => string[],
): Promise<void> {
    for (const move of moves.filter((m) => !m.done)) {
        void pulumi.log.warn(moveNotice(move, await databaseBytes(config, move), rolesOf(move.app)));
    }
}

/** Every child of the old copy as the last `up` left it: no input change applied, never dropped, not protected (so it can be forgotten). */
const frozen: pulumi.ResourceTransformation = (a) => ({
    props: a.props,
    opts: pulumi.mergeOptions(a.opts, { retainOnDelete: true, protect: false, ignoreChanges: Object.keys(a.props) }),
});

/**
 * Declares one move: the old copy kept (frozen) and the DataMove that copies
 * it into the app's new database `db`. Returns what makes the app's outputs
 * wait for the copy, and the record for the `moves` output.
 */
export function declareMove(
    move: PlannedMove,
    db: AppDatabase,
    servers: Readonly<Record<string, PostgresServer>>,
    stateAtLastUp: readonly PriorResource[],
    guard: pulumi.Resource,
): { after: <T>(o: pulumi.Output<T>) => pulumi.Output<T>; record: pulumi.Output<MoveRecord> } {
    const { app, from, database } = move;
    const old = new AppDatabase(
        `${app.name}@${from}`,
        { ...appDatabaseArgs(app, servers[from], false), stateAtLastUp },
        { dependsOn: [guard], transformations: [frozen] },
    );
    const end = (server: string, db: string) => servers[server].connection.apply((connection) => ({ server, connection, database: db }));
    const dataMove = new DataMove(
        `${app.name}-move-from-${from}`,
        {
            app: app.name,
            from: end(from, database),
            to: end(app.server, app.database),
            ownerRole: db.migrateUser,
            roles: roleNamesOf(footprintOf(app)),
            writers: app.moveWriters,
            // A finished move needs no tools any more.
            clientBin: move.done ? (findClientBin() ?? "") : moveClientBin(),
        },
        { dependsOn: [db, old] },
    );
    const after = <T>(o: pulumi.Output<T>): pulumi.Output<T> => pulumi.all([o, dataMove.movedAt]).apply(([v]) => v) as pulumi.Output<T>;
    const record = pulumi.all([dataMove.report, dataMove.movedAt]).apply(([r, movedAt]) => ({
        from,
        to: app.server,
        database,
        writers: app.moveWriters,
        movedAt,
        tables: r.tableCount,
        rows: r.rowCount,
        sourceBytes: r.sourceBytes,
        verification: r.verification,
    }));
    return { after, record };
}
