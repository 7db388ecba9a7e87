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
 * Refresh counts what is still owned by the old owners (a table created as
 * `postgres` after the move): drift, which the next `up` moves too. Deleting
 * ends management and moves nothing back.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Client } from "pg";
import { AdminConnection, quoteIdent, withAdminClient } from "./adminConnection";
import { sameSet } from "./databaseAccess";
import { isSystemSchema } from "./identifiers";
import { served, ServedResource } from "./servedResource";

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
}

interface OwnershipInputs {
    connection: AdminConnection;
    database: string;
    schemas: string[];
    from: string[];
    to: string;
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
export async function movableObjects(client: Client, schemas: readonly string[], from: readonly string[]): Promise<MovableObject[]> {
    const relations = await client.query<{ kind: string; name: string; owner: string }>(
        `SELECT c.relkind::text AS kind, format('%I.%I', n.nspname, c.relname) AS name, pg_get_userbyid(c.relowner) AS owner
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = ANY($1) AND pg_get_userbyid(c.relowner) = ANY($2)
            AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
            AND NOT EXISTS (SELECT 1 FROM pg_depend d
                             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                               AND (d.deptype = 'e' OR (c.relkind = 'S' AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))))
          ORDER BY 2`,
        [schemas, from],
    );
    const routines = await client.query<{ kind: string; name: string; owner: string }>(
        `SELECT CASE p.prokind WHEN 'p' THEN 'pr' ELSE 'fn' END AS kind,
                format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS name,
                pg_get_userbyid(p.proowner) AS owner
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = ANY($1) AND pg_get_userbyid(p.proowner) = ANY($2) AND p.prokind IN ('f', 'p')
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
          ORDER BY 2`,
        [schemas, from],
    );
    return [...relations.rows, ...routines.rows].map((r) => ({ kind: KINDS[r.kind], name: r.name, owner: r.owner }));
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
    const found = await client.query<{ extension: string | null }>(
        `SELECT (SELECT e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                  WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e' LIMIT 1) AS extension
           FROM pg_namespace n WHERE n.nspname = $1`,
        [schema],
    );
    if (!found.rowCount) return `schema ${schema} does not exist`;
    const extension = found.rows[0].extension;
    return extension ? `schema ${schema} belongs to extension ${extension}: its objects never move` : undefined;
}

async function move(inputs: OwnershipInputs): Promise<Record<string, number>> {
    return withAdminClient(
        inputs.connection,
        async (client) => {
            for (const schema of inputs.schemas) {
                const problem = await schemaProblem(client, schema);
                if (problem) throw new Error(`database ${inputs.database}: ${problem}`);
            }
            const objects = await movableObjects(client, inputs.schemas, inputs.from);
            const to = quoteIdent(inputs.to);
            await client.query("BEGIN");
            try {
                // The new owner uses and creates in the schemas it now holds objects in.
                for (const schema of inputs.schemas) await client.query(`GRANT USAGE, CREATE ON SCHEMA ${quoteIdent(schema)} TO ${to}`);
                for (const o of objects) await client.query(`ALTER ${o.kind} ${o.name} OWNER TO ${to}`);
                await client.query("COMMIT");
            } catch (err) {
                await client.query("ROLLBACK");
                throw err;
            }
            return countByKind(objects);
        },
        inputs.database,
    );
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
        super(
            objectOwnershipProviderModule,
            name,
            { ...args, schemas: [...args.schemas], from: [...args.from], moved: undefined, remaining: undefined },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["connection"] }),
            "app-databases",
            "ObjectOwnership",
        );
    }
}
