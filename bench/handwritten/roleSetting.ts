/**
 * `ALTER ROLE <role> SET <name> = <value>` as a dynamic resource, the way
 * Pulumi's docs teach dynamic providers: postgresql.Role has no field for
 * idle_session_timeout (cyrilgdn/terraform-provider-postgresql#559), so a user
 * who wants it writes this (or runs psql beside Pulumi).
 */
import * as pulumi from "@pulumi/pulumi";
import { Client } from "pg";

export interface RoleSettingArgs {
    connection: pulumi.Input<{ host: string; port: number; user: string; password: string }>;
    role: pulumi.Input<string>;
    name: pulumi.Input<string>;
    value: pulumi.Input<string>;
}

interface Inputs {
    connection: { host: string; port: number; user: string; password: string };
    role: string;
    name: string;
    value: string;
}

async function alterRole(inputs: Inputs, set: boolean): Promise<void> {
    const client = new Client({ ...inputs.connection, database: "postgres" });
    await client.connect();
    try {
        const role = client.escapeIdentifier(inputs.role);
        const name = client.escapeIdentifier(inputs.name);
        await client.query(
            set ? `ALTER ROLE ${role} SET ${name} = ${client.escapeLiteral(inputs.value)}` : `ALTER ROLE ${role} RESET ${name}`,
        );
    } finally {
        await client.end();
    }
}

const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: Inputs) {
        await alterRole(inputs, true);
        return { id: `${inputs.role}/${inputs.name}`, outs: inputs };
    },
    async diff(_id: string, olds: Inputs, news: Inputs) {
        const replaces = olds.role !== news.role || olds.name !== news.name ? ["role", "name"] : [];
        return { changes: replaces.length > 0 || olds.value !== news.value, replaces, deleteBeforeReplace: true };
    },
    async update(_id: string, _olds: Inputs, news: Inputs) {
        await alterRole(news, true);
        return { outs: news };
    },
    async delete(_id: string, olds: Inputs) {
        await alterRole(olds, false);
    },
};

export class RoleSetting extends pulumi.dynamic.Resource {
    constructor(name: string, args: RoleSettingArgs, opts?: pulumi.CustomResourceOptions) {
        super(provider, name, args, opts);
    }
}
