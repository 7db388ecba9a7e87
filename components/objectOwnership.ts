/**
 * ObjectOwnership: the objects of chosen schemas move to the app's owner role,
 * so that a NOSUPERUSER migrate role can ALTER what a superuser created.
 *
 * Scoped, never `REASSIGN OWNED BY` (which would take every object the old
 * owner has in the database, extension and system objects included): only
 * tables, partitioned tables, views, materialized views, foreign tables,
 * free-standing sequences, functions and procedures in the listed schemas,
 * owned by one of the listed roles, and not part of an extension. Sequences
 * that belong to a table column follow their table. Objects owned by anyone
 * else (a view a refresher role owns) stay where they are.
 *
 * Never blocks a running service (lockWaits.ts): each object moves in a short
 * transaction of its own with a small lock_timeout, locked ones are retried,
 * and after `maxWaitSeconds` the step fails naming the sessions in the way.
 * Safe to retry: a failed create records nothing (a plain error, not an
 * initialization failure with state), a failed update keeps the old state,
 * whose difference from the new inputs (or `remaining`) makes the next diff
 * run it again; and either way the next run lists what is still owned by the
 * old owners, so it moves the rest.
 *
 * Refresh counts what is still owned by the old owners (a table created as
 * `postgres` after the move): drift, which the next `up` moves too. Deleting
 * ends management and moves nothing back.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Client } from "pg";
import { AdminConnection, withAdminClient } from "./adminConnection";
import { checkInt, DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_MAX_LOCK_WAIT_SECONDS, RANGES } from "./defaults";
import { isSystemSchema, sameSet } from "./identifiers";
import {
    blockersOf,
    LockingStep,
    LockTarget,
    LockWaitOptions,
    RoundsIO,
    RoundsResult,
    runInRounds,
    stopMessage,
    tryInShortTransaction,
    waitingLine,
} from "./lockWaits";
import { served, ServedResource } from "./servedResource";
import { movableRelationsQuery, movableRoutinesQuery, ownerChange, schemaExtensionQuery } from "./sql/ownership";
import { grantOnSchema, schemasQuery } from "./sql/schemas";

const COMPONENT = "ObjectOwnership";

export interface ObjectOwnershipArgs {
    /** The admin connection (a secret: it carries the password). */
    readonly connection: pulumi.Input<AdminConnection>;
    readonly database: pulumi.Input<string>;
    /** The schemas whose objects move. */
    readonly schemas: readonly string[];
    /** Only objects these roles own move. */
    readonly from: readonly string[];
    /** The new owner (the app's migrate role). */
    readonly to: pulumi.Input<string>;
    /**
     * How long one owner change waits for its lock; each object moves in a
     * transaction of its own, so services' reads of it queue that long at most.
     * @default 2000
     */
    readonly lockTimeoutMs?: number;
    /**
     * How long objects other sessions hold locks on are retried, from the
     * first wait; then the step fails naming those sessions, and the next
     * `up` moves the rest. @default 60
     */
    readonly maxWaitSeconds?: number;
}

interface OwnershipInputs {
    connection: AdminConnection;
    database: string;
    schemas: string[];
    from: string[];
    to: string;
    /** Absent in state written before they existed: the defaults. */
    lockTimeoutMs?: number;
    maxWaitSeconds?: number;
}

interface OwnershipState extends OwnershipInputs {
    /** How many objects of each kind the last create or update moved. */
    moved: Record<string, number>;
    /** Objects in the schemas still owned by `from` (read on refresh). */
    remaining: number;
}

/** One object that can move, with the statement that moves it. */
export interface MovableObject {
    readonly kind: string;
    /** Schema-qualified, quoted as the ALTER statement needs it. */
    readonly name: string;
    readonly owner: string;
}

/** A movable object as ObjectOwnership reads it: with what its owner change locks. */
export interface MovableObjectRef extends MovableObject {
    readonly target: LockTarget;
}

/** The ALTER keyword of a pg_class relkind or pg_proc prokind. */
const KINDS: Readonly<Record<string, string>> = {
    r: "TABLE",
    p: "TABLE",
    v: "VIEW",
    m: "MATERIALIZED VIEW",
    f: "FOREIGN TABLE",
    S: "SEQUENCE",
    fn: "FUNCTION",
    pr: "PROCEDURE",
};

/**
 * The objects in `schemas` owned by one of `from` that may move: not part of
 * an extension, and (sequences) not owned by a table column.
 */
export async function movableObjects(client: Client, schemas: readonly string[], from: readonly string[]): Promise<MovableObjectRef[]> {
    type Row = { kind: string; name: string; owner: string; oid: string };
    const relations = await client.query<Row>(movableRelationsQuery(schemas, from));
    const routines = await client.query<Row>(movableRoutinesQuery(schemas, from));
    const ref = (catalog: LockTarget["catalog"]) => (r: Row) => ({
        kind: KINDS[r.kind],
        name: r.name,
        owner: r.owner,
        target: { catalog, oid: Number(r.oid) },
    });
    return [...relations.rows.map(ref("pg_class")), ...routines.rows.map(ref("pg_proc"))];
}

/** Objects per kind, e.g. `{ TABLE: 3, VIEW: 1 }`. */
export function countByKind(objects: readonly MovableObject[]): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const o of objects) counts[o.kind] = (counts[o.kind] ?? 0) + 1;
    return counts;
}

/** Why a schema cannot have its objects moved, or undefined. */
export async function schemaProblem(client: Client, schema: string): Promise<string | undefined> {
    if (isSystemSchema(schema)) return `schema ${schema} is PostgreSQL's own: its objects never move`;
    const found = await client.query<{ extension: string | null }>(schemaExtensionQuery(schema));
    if (!found.rowCount) return `schema ${schema} does not exist`;
    const extension = found.rows[0].extension;
    return extension ? `schema ${schema} belongs to extension ${extension}: its objects never move` : undefined;
}

/** How long the owner changes wait for locks, the defaults filled in; errors name `<component>: \`<prefix><arg>\``. */
export function lockWaitOf(
    args: { readonly lockTimeoutMs?: number; readonly maxWaitSeconds?: number },
    component = COMPONENT,
    prefix = "",
): LockWaitOptions {
    return {
        lockTimeoutMs: checkInt(component, `${prefix}lockTimeoutMs`, args.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS, RANGES.lockTimeoutMs),
        maxWaitSeconds: checkInt(
            component,
            `${prefix}maxWaitSeconds`,
            args.maxWaitSeconds ?? DEFAULT_MAX_LOCK_WAIT_SECONDS,
            RANGES.maxLockWaitSeconds,
        ),
    };
}

/** Progress between retry rounds: the engine shows what a provider writes to stderr as it comes. */
const reportOnStderr = (line: string) => void process.stderr.write(`${line}\n`);

async function move(inputs: OwnershipInputs, report: (line: string) => void = reportOnStderr): Promise<Record<string, number>> {
    const options = lockWaitOf(inputs);
    return withAdminClient(
        inputs.connection,
        async (client) => {
            for (const schema of inputs.schemas) {
                const problem = await schemaProblem(client, schema);
                if (problem) throw new Error(`database ${inputs.database}: ${problem}`);
            }
            const io: RoundsIO<LockingStep> = {
                attempt: (step) => tryInShortTransaction(client, step.statement, options.lockTimeoutMs),
                holders: (step) => blockersOf(client, step.target),
                report: (progress) => report(waitingLine(inputs.database, progress, options)),
                sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
                now: () => Date.now(),
            };
            // The grants first, each its own transaction: a NOSUPERUSER new owner needs CREATE to be given objects.
            const granted = await runInRounds(await schemaGrants(client, inputs.schemas, inputs.to), options, io);
            const objects = await movableObjects(client, inputs.schemas, inputs.from);
            const steps: ObjectStep[] = objects.map((o) => ({
                label: o.name,
                statement: ownerChange(o.kind, o.name, inputs.to),
                target: o.target,
                object: o,
            }));
            const moves: RoundsResult<ObjectStep> =
                granted.left.length > 0
                    ? { done: [], left: steps, blockers: [], waitedMs: 0 }
                    : await runInRounds<ObjectStep>(
                          steps,
                          { ...options, maxWaitSeconds: Math.max(0, options.maxWaitSeconds - granted.waitedMs / 1000) },
                          io,
                      );
            if (granted.left.length > 0 || moves.left.length > 0) {
                throw new Error(
                    stopMessage({
                        database: inputs.database,
                        to: inputs.to,
                        total: objects.length,
                        moved: moves.done.length,
                        left: [...granted.left, ...moves.left].map((s) => s.label),
                        blockers: [...granted.blockers, ...moves.blockers],
                        waitedMs: granted.waitedMs + moves.waitedMs,
                    }),
                );
            }
            return countByKind(moves.done.map((s) => s.object));
        },
        inputs.database,
    );
}

type ObjectStep = LockingStep & { readonly object: MovableObjectRef };

/** One GRANT per schema, with the schema as what it locks. */
async function schemaGrants(client: Client, schemas: readonly string[], to: string): Promise<LockingStep[]> {
    const found = await client.query<{ schema: string; oid: string }>(schemasQuery(schemas));
    const oids = new Map(found.rows.map((r) => [r.schema, Number(r.oid)]));
    return schemas.map((schema) => ({
        label: `grant on schema ${schema}`,
        statement: grantOnSchema(["USAGE", "CREATE"], schema, to),
        target: { catalog: "pg_namespace", oid: oids.get(schema) ?? 0 },
    }));
}

export const objectOwnershipProvider: pulumi.dynamic.ResourceProvider<OwnershipInputs, OwnershipState> = {
    async create(inputs) {
        return { id: `${inputs.database}:${inputs.schemas.join(",")}`, outs: { ...inputs, moved: await move(inputs), remaining: 0 } };
    },
    async diff(_id, olds, news) {
        const changed =
            olds.remaining > 0 ||
            olds.to !== news.to ||
            !sameSet(olds.schemas, news.schemas) ||
            !sameSet(olds.from, news.from) ||
            olds.connection.host !== news.connection.host ||
            olds.connection.port !== news.connection.port;
        return { changes: changed, replaces: olds.database !== news.database ? ["database"] : [], deleteBeforeReplace: true };
    },
    async update(_id, _olds, news) {
        return { outs: { ...news, moved: await move(news), remaining: 0 } };
    },
    async read(id, props) {
        if (!props) throw new Error(`ObjectOwnership ${id}: nothing to read without prior state`);
        const remaining = await withAdminClient(
            props.connection,
            async (client) => (await movableObjects(client, props.schemas, props.from)).length,
            props.database,
        );
        return { id, props: { ...props, remaining } };
    },
    // Nothing moves back: the objects stay with the owner role, which the stack leaves in place.
    async delete() {},
};
/** Served by the package plugin; in a TypeScript program the state stores the line that loads it (servedResource.ts). */
const objectOwnershipProviderModule = served("ObjectOwnership", __filename, "objectOwnershipProvider", objectOwnershipProvider);

/** Moves the objects of some schemas, owned by some roles, to one owner role. */
export class ObjectOwnership extends ServedResource {
    // `declare`: a class field would reset what the engine set in super() (ES2022 class fields).
    declare public readonly moved: pulumi.Output<Record<string, number>>;

    constructor(name: string, args: ObjectOwnershipArgs, opts: pulumi.CustomResourceOptions = {}) {
        lockWaitOf(args);
        super(
            objectOwnershipProviderModule,
            name,
            { ...args, schemas: [...args.schemas], from: [...args.from], moved: undefined, remaining: undefined },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["connection"] }),
            "app-databases",
            COMPONENT,
        );
    }
}
