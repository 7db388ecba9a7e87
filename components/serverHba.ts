/**
 * ServerHba: the pg_hba.conf of a server the stack owns whole (a dedicated
 * container), written through the server itself and reloaded, so any image
 * works and a change of rules needs no restart.
 *
 * The file is the server's own (`hba_file`, in the data volume: it survives
 * container replacements). The new lines are written with COPY, checked
 * with `pg_hba_file_rules` before the reload, and the old file is put back if
 * the server would reject a line, so a bad rule never locks the admin out.
 * A refresh reads the file back: an edit by hand shows as drift and the next
 * `up` writes the rules again. Delete leaves the file as it is: the server
 * goes away with its app.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Client } from "pg";
import { AdminConnection, otherInstance, withAdminClient } from "./adminConnection";
import { served, ServedResource } from "./servedResource";
import { hbaErrorsQuery, hbaPathQuery, readFileQuery, reloadConfig, writeFileStatement } from "./sql/serverFiles";

export interface ServerHbaArgs {
    /** The server's superuser connection (a secret: it carries the password); writing server files needs a superuser. */
    readonly connection: pulumi.Input<AdminConnection>;
    /** The whole file, one entry per line, in the order they must appear. */
    readonly lines: pulumi.Input<pulumi.Input<string>[]>;
}

interface HbaInputs {
    connection: AdminConnection;
    lines: string[];
}

interface HbaState extends HbaInputs {
    /** Where the server keeps the file. */
    path: string;
    /** Whether the file on the server holds exactly `lines` (false after an edit by hand, seen on refresh). */
    inPlace: boolean;
}

const fileText = (lines: readonly string[]) => lines.map((l) => `${l}\n`).join("");
/** One line of text format per line: a tab, backslash or line break would not come back as written. */
async function writeFile(client: Client, path: string, lines: readonly string[]): Promise<void> {
    const bad = lines.find((l) => /[\n\r\t\\]/.test(l));
    if (bad !== undefined) throw new Error(`pg_hba line ${JSON.stringify(bad)}: tabs, backslashes and line breaks are not written`);
    await client.query(writeFileStatement(path, lines));
}

async function hbaPath(client: Client): Promise<string> {
    return (await client.query<{ path: string }>(hbaPathQuery())).rows[0].path;
}

async function readFile(client: Client, path: string): Promise<string> {
    return (await client.query<{ text: string }>(readFileQuery(path))).rows[0].text;
}

/** Writes `lines` as the server's pg_hba.conf and reloads it; puts the old file back if the server finds an error in it. */
async function install(connection: AdminConnection, lines: readonly string[]): Promise<string> {
    return withAdminClient(connection, async (client) => {
        const path = await hbaPath(client);
        const before = await readFile(client, path);
        await writeFile(client, path, lines);
        const errors = await client.query<{ line_number: number; error: string }>(hbaErrorsQuery());
        if (errors.rows.length > 0) {
            await writeFile(client, path, before.replace(/\n$/, "").split("\n"));
            throw new Error(
                `pg_hba.conf not changed: the server rejects ${errors.rows.map((e) => `line ${e.line_number} (${e.error})`).join(", ")}`,
            );
        }
        await client.query(reloadConfig());
        return path;
    });
}

export const serverHbaProvider: pulumi.dynamic.ResourceProvider<HbaInputs, HbaState> = {
    async create(inputs) {
        const path = await install(inputs.connection, inputs.lines);
        return { id: path, outs: { ...inputs, path, inPlace: true } };
    },
    async diff(_id, olds, news) {
        const same = olds.inPlace && fileText(olds.lines) === fileText(news.lines);
        // A container made anew may hold the image's own file (an empty volume): written again.
        const moved = olds.connection.host !== news.connection.host || olds.connection.port !== news.connection.port;
        return { changes: !same || moved || otherInstance(olds.connection, news.connection) };
    },
    async update(_id, _olds, news) {
        const path = await install(news.connection, news.lines);
        return { outs: { ...news, path, inPlace: true } };
    },
    async read(id, props) {
        const state = props as HbaState;
        const text = await withAdminClient(state.connection, (client) => readFile(client, state.path));
        return { id, props: { ...state, inPlace: text === fileText(state.lines) } };
    },
};

/** Served by the package plugin; in a TypeScript program the state stores the line that loads it (servedResource.ts). */
const serverHbaProviderModule = served("ServerHba", __filename, "serverHbaProvider", serverHbaProvider);

export class ServerHba extends ServedResource {
    declare public readonly path: pulumi.Output<string>;
    declare public readonly inPlace: pulumi.Output<boolean>;

    constructor(name: string, args: ServerHbaArgs, opts: pulumi.CustomResourceOptions = {}) {
        super(serverHbaProviderModule, name, { ...args, path: undefined, inPlace: undefined }, opts, "app-databases", "ServerHba");
    }
}
