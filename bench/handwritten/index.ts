/**
 * The benchmark's peer: what someone who already uses Pulumi writes by hand to
 * give every app its own database, two login roles and generated passwords,
 * with @pulumi/postgresql and @pulumi/random as their docs teach (a Role per
 * login, a Database, Grants, DefaultPrivileges, RandomPasswords), and the same
 * end state as the app-databases program (bench/src/catalog.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import * as random from "@pulumi/random";
import { RoleSetting } from "./roleSetting";

interface App {
    name: string;
    connectionLimit: number;
    migrateConnectionLimit: number;
}

const config = new pulumi.Config();
const server = config.requireObject<{ host: string; port: number; username: string }>("server");
const adminPassword = config.requireSecret("adminPassword");
const appList = config.requireObject<App[]>("apps");

const provider = new postgresql.Provider("server", {
    host: server.host,
    port: server.port,
    username: server.username,
    password: adminPassword,
    sslmode: "disable",
    superuser: true,
});
const opts = { provider };

const url = (role: pulumi.Input<string>, password: pulumi.Input<string>, database: pulumi.Input<string>) =>
    pulumi.secret(pulumi.interpolate`postgresql://${role}:${password}@${server.host}:${server.port}/${database}`);

/** Per app its two login URLs (secrets), as the app-databases program outputs them. */
export const apps: Record<string, { runtimeUrl: pulumi.Output<string>; migrateUrl: pulumi.Output<string> }> = {};

for (const app of appList) {
    const migratePassword = new random.RandomPassword(`${app.name}-migrate-password`, { length: 32, special: false });
    const runtimePassword = new random.RandomPassword(`${app.name}-app-password`, { length: 32, special: false });

    // <app>_migrate owns the database and runs DDL; <app>_app is the runtime role.
    const migrate = new postgresql.Role(
        `${app.name}-migrate`,
        { name: `${app.name}_migrate`, login: true, password: migratePassword.result, connectionLimit: app.migrateConnectionLimit },
        opts,
    );
    const runtime = new postgresql.Role(
        `${app.name}-app`,
        {
            name: `${app.name}_app`,
            login: true,
            password: runtimePassword.result,
            connectionLimit: app.connectionLimit,
            statementTimeout: 30_000,
            idleInTransactionSessionTimeout: 60_000,
        },
        opts,
    );
    new RoleSetting(
        `${app.name}-app-idle-session-timeout`,
        {
            connection: pulumi.secret({ host: server.host, port: server.port, user: server.username, password: adminPassword }),
            role: runtime.name,
            name: "idle_session_timeout",
            value: "600000",
        },
        // A dynamic resource has its own provider.
    );

    const database = new postgresql.Database(app.name, { name: app.name, owner: migrate.name }, opts);

    // CONNECT and TEMPORARY for the app's own roles only.
    const revokePublic = new postgresql.Grant(
        `${app.name}-revoke-public`,
        { database: database.name, role: "public", objectType: "database", privileges: [] },
        opts,
    );
    new postgresql.Grant(
        `${app.name}-app-connect`,
        { database: database.name, role: runtime.name, objectType: "database", privileges: ["CONNECT", "TEMPORARY"] },
        // Two grants on one database at once fail with "tuple concurrently updated" (cyrilgdn #178).
        { ...opts, dependsOn: [revokePublic] },
    );

    // What <app>_migrate creates in public, <app>_app may read and write.
    new postgresql.DefaultPrivileges(
        `${app.name}-app-tables`,
        {
            database: database.name,
            owner: migrate.name,
            role: runtime.name,
            schema: "public",
            objectType: "table",
            privileges: ["SELECT", "INSERT", "UPDATE", "DELETE"],
        },
        opts,
    );
    new postgresql.DefaultPrivileges(
        `${app.name}-app-sequences`,
        {
            database: database.name,
            owner: migrate.name,
            role: runtime.name,
            schema: "public",
            objectType: "sequence",
            privileges: ["USAGE", "SELECT", "UPDATE"],
        },
        opts,
    );

    apps[app.name] = {
        runtimeUrl: url(runtime.name, runtimePassword.result, database.name),
        migrateUrl: url(migrate.name, migratePassword.result, database.name),
    };
}
