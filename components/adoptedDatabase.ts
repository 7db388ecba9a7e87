/**
 * AdoptedDatabase: a database that existed before the stack, with its data,
 * taken under management instead of created.
 *
 * It is never created, dropped or recreated: creating checks that it exists and
 * gives it to the app's owner role (`ALTER DATABASE ... OWNER TO`, which moves
 * no object inside it); deleting only ends management, whatever the stack's
 * protection. The provider's Database would run CREATE DATABASE, and its DROP
 * on removal is exactly what adoption must never do.
 */
import * as pulumi from "@pulumi/pulumi";
import { AdminConnection, withAdminClient } from "./adminConnection";
import { databaseOwner } from "./databaseAccess/database";
import { served, ServedResource } from "./servedResource";
import { alterDatabaseOwner } from "./sql/database";

export interface AdoptedDatabaseArgs {
    /** The admin connection (a secret: it carries the password). */
    readonly connection: pulumi.Input<AdminConnection>;
    /** The existing database's name. */
    readonly name: string;
    /** The role that owns it from now on (the app's migrate role). */
    readonly owner: pulumi.Input<string>;
}

interface AdoptedDatabaseInputs {
    connection: AdminConnection;
    name: string;
    owner: string;
}

interface AdoptedDatabaseState extends AdoptedDatabaseInputs {
    /** Its owner when it was adopted. */
    previousOwner: string;
    /** Its owner now (read back on refresh). */
    currentOwner: string;
}

async function giveTo(inputs: AdoptedDatabaseInputs): Promise<{ before: string; after: string }> {
    return withAdminClient(inputs.connection, async (client) => {
        const before = await databaseOwner(client, inputs.name);
        if (before === undefined) {
            throw new Error(
                `database ${inputs.name} does not exist on the server, so it cannot be adopted: remove adopt.database to have it created`,
            );
        }
        if (before !== inputs.owner) await client.query(alterDatabaseOwner(inputs.name, inputs.owner));
        return { before, after: (await databaseOwner(client, inputs.name))! };
    });
}

export const adoptedDatabaseProvider: pulumi.dynamic.ResourceProvider<AdoptedDatabaseInputs, AdoptedDatabaseState> = {
    async create(inputs) {
        const { before, after } = await giveTo(inputs);
        return { id: inputs.name, outs: { ...inputs, previousOwner: before, currentOwner: after } };
    },
    async diff(_id, olds, news) {
        const changed =
            olds.currentOwner !== news.owner ||
            olds.owner !== news.owner ||
            olds.connection.host !== news.connection.host ||
            olds.connection.port !== news.connection.port;
        return { changes: changed, replaces: olds.name !== news.name ? ["name"] : [], deleteBeforeReplace: true };
    },
    async update(_id, olds, news) {
        const { after } = await giveTo(news);
        return { outs: { ...news, previousOwner: olds.previousOwner, currentOwner: after } };
    },
    async read(id, props) {
        if (!props) throw new Error(`AdoptedDatabase ${id}: nothing to read without prior state`);
        const owner = await withAdminClient(props.connection, (client) => databaseOwner(client, props.name));
        return owner === undefined ? { id: "", props } : { id, props: { ...props, currentOwner: owner } };
    },
    // The database and its data were there before the stack and stay after it.
    async delete() {},
};
/** Served by the package plugin; in a TypeScript program the state stores the line that loads it (servedResource.ts). */
const adoptedDatabaseProviderModule = served("AdoptedDatabase", __filename, "adoptedDatabaseProvider", adoptedDatabaseProvider);

/** An existing database brought under management: owned by the app's migrate role, never created or dropped. */
export class AdoptedDatabase extends ServedResource {
    // `declare`: a class field would reset what the engine set in super() (ES2022 class fields).
    declare public readonly name: pulumi.Output<string>;

    constructor(name: string, args: AdoptedDatabaseArgs, opts: pulumi.CustomResourceOptions = {}) {
        super(
            adoptedDatabaseProviderModule,
            name,
            { ...args, previousOwner: undefined, currentOwner: undefined },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["connection"] }),
            "app-databases",
            "AdoptedDatabase",
        );
    }
}
