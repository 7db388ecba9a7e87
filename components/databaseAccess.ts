/**
 * DatabaseAccess: who may CONNECT to a database (and create TEMPORARY tables).
 *
 * PostgreSQL grants CONNECT and TEMPORARY to PUBLIC on every new database, so
 * revoking from a single role does nothing: the privilege must be revoked from
 * PUBLIC and granted back to the app's own roles. The postgresql provider's
 * grant to `public` with an empty privilege list shows a diff on every plan
 * (cyrilgdn #133, pulumi-postgresql #88, #91), so this small dynamic resource
 * runs the SQL itself, in one transaction-free pass per change, and reads
 * `datacl` back on refresh.
 *
 * In an app's database it also takes CREATE on schema `public` away from
 * PUBLIC, as PostgreSQL 15 and later do by default: on 14 every role may
 * create objects there, so the runtime and read-only roles could run DDL. The
 * roles that should create there (the migrate role) keep or get CREATE first.
 *
 * For an app's own database it also makes the database (and the app's
 * schemas in it) and drops it on delete: one resource per database instead of
 * the postgresql provider's Database and Schemas beside it. Each custom
 * resource costs the engine two provider calls in a row in every preview, and
 * the provider's CREATE and DROP DATABASE needed a chain of databases to keep
 * its small pool from deadlocking (bench/README.md).
 *
 * It also sets the session settings of the roles that connect (`ALTER ROLE
 * ... SET`, for what the provider's Role lacks: idle_session_timeout), in the
 * same session: one dynamic resource per app instead of one per role. Each
 * dynamic resource carries its serialized provider in the state, and the
 * engine rewrites the whole state after every step, so fewer and smaller is
 * measurably faster (bench/).
 *
 * For an app's own database it also makes the app's login roles (`roles`,
 * with their generated passwords: managedRoles.ts) before the database, and
 * drops them after it; a role the declaration no longer has is dropped after
 * everything here was revoked from it. And it grants USAGE on the app's own
 * schemas (`schemaUsage`). An app is then one custom resource: each costs a
 * 100-app preview a Check and a Diff, strictly one after another, about 6 ms
 * of CPU-bound wall time per resource on two cores (bench/README.md).
 *
 * This file is the resource; its provider is in databaseAccess/: provider.ts
 * (create, update, read, delete), database.ts (the database and its locks),
 * schemas.ts (what it keeps inside the database), loginRoles.ts (its roles).
 */
import * as pulumi from "@pulumi/pulumi";
import type { AdminConnection } from "./adminConnection";
import { DefaultPrivilegeEntry } from "./defaultPrivileges";
import { ManagedRoleSpec, sortedMemberships } from "./managedRoles";
import { RoleBudget } from "./roleBudgetLock";
import { databaseAccessProvider } from "./databaseAccess/provider";
import { served, ServedResource } from "./servedResource";

// The state of every stack names this module and this export as the provider (servedResource.ts): they stay here.
export { databaseAccessProvider };
export type { AccessInputs, AccessState } from "./databaseAccess/provider";
export type { SchemaUsage } from "./databaseAccess/schemas";
export type { RoleSettingsEntry } from "./roleSettings";
export type { DefaultPrivilegeEntry } from "./defaultPrivileges";

export interface DatabaseAccessArgs {
    /** The admin connection (a secret: it carries the password). */
    readonly connection: pulumi.Input<AdminConnection>;
    /** The database to lock down. */
    readonly database: pulumi.Input<string>;
    /** The database's owner, whose privileges the grants are made with. @default read from the server */
    readonly owner?: pulumi.Input<string>;
    /** Roles granted CONNECT and TEMPORARY; everyone else is refused. */
    readonly grantees: pulumi.Input<pulumi.Input<string>[]>;
    /** On delete, give PUBLIC its CONNECT back (undoing the hardening of a system database). @default false */
    readonly restorePublicOnDelete?: boolean;
    /** Session settings per role, set server-wide; parameters not listed are left alone. @default none */
    readonly roleSettings?: pulumi.Input<
        pulumi.Input<{ role: pulumi.Input<string>; database?: pulumi.Input<string>; settings: Record<string, string> }>[]
    >;
    /**
     * Revoke CREATE on schema `public` from PUBLIC (the PostgreSQL 14 default
     * grant) in this database, after making sure these roles can create there.
     * @default undefined: the schema is left as it is (system databases)
     */
    readonly publicSchemaCreators?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Default privileges in this database (defaultPrivileges.ts): what each
     * role gets on what the owner creates. Entries not listed are left alone.
     * @default none
     */
    readonly defaultPrivileges?: pulumi.Input<pulumi.Input<DefaultPrivilegeEntryArgs>[]>;
    /**
     * The database is this resource's own: create it (owned by `owner`, from
     * template0, UTF8) and drop it on delete, with every session in it. A
     * database that exists already is refused on create unless it belongs to
     * `owner` (a create that failed half-way), never taken over (AdoptedDatabase
     * does that). @default false: the database exists and outlives this resource
     */
    readonly createDatabase?: boolean;
    /** Schemas made in the database, owned by `owner`, if missing; never dropped but with the database. @default none */
    readonly schemas?: pulumi.Input<string[]>;
    /**
     * Login roles this resource makes (before the database) and drops (after
     * it), by slot, with generated passwords (`passwords`): managedRoles.ts.
     * @default none
     */
    readonly roles?: pulumi.Input<Record<string, pulumi.Input<ManagedRoleSpec>>>;
    /** Upgrade only: roles of `roles` an earlier resource made, by slot, with the password each has (secret): taken over. */
    readonly existingPasswords?: pulumi.Input<Record<string, string> | undefined>;
    /** USAGE on schemas of the database, granted by their owner; one that goes is revoked. @default none */
    readonly schemaUsage?: pulumi.Input<pulumi.Input<SchemaUsageArgs>[]>;
    /**
     * On a shared server: what the connection budget allows, checked under a
     * server-wide lock whenever `roles` makes a role or raises a limit, and
     * the stack whose mark the roles carry (roleBudgetLock.ts). Not diffed
     * but for the stack. @default none: no check, roles marked by database only
     */
    readonly roleBudget?: RoleBudget;
}

/** A SchemaUsage whose role may be an output. */
export interface SchemaUsageArgs {
    readonly schema: string;
    readonly role: pulumi.Input<string>;
}

/** A DefaultPrivilegeEntry whose role names may be outputs. */
export interface DefaultPrivilegeEntryArgs extends Omit<DefaultPrivilegeEntry, "owner" | "role"> {
    readonly owner: pulumi.Input<string>;
    readonly role: pulumi.Input<string>;
}

/** Served by the package plugin; in a TypeScript program the state stores the line that loads it (servedResource.ts). */
const databaseAccessProviderModule = served("DatabaseAccess", __filename, "databaseAccessProvider", databaseAccessProvider);

/** Revokes CONNECT and TEMPORARY from PUBLIC on a database and grants them to the named roles only; with createDatabase, makes the database first. */
export class DatabaseAccess extends ServedResource {
    // `declare`: a class field would reset what the engine set in super() (ES2022 class fields).
    /** The database's name, known once it exists (made by this resource when createDatabase). */
    declare public readonly database: pulumi.Output<string>;
    declare public readonly grantees: pulumi.Output<string[]>;
    declare public readonly publicConnect: pulumi.Output<boolean>;
    declare public readonly roles: pulumi.Output<Record<string, ManagedRoleSpec> | undefined>;
    /** Secret: the password of each role it makes, by slot. */
    declare public readonly passwords: pulumi.Output<Record<string, string> | undefined>;

    constructor(name: string, args: DatabaseAccessArgs, opts: pulumi.CustomResourceOptions = {}) {
        super(
            databaseAccessProviderModule,
            name,
            {
                owner: undefined,
                restorePublicOnDelete: false,
                ...args,
                roleSettings: args.roleSettings ?? [],
                publicSchemaCreators: args.publicSchemaCreators,
                defaultPrivileges: args.defaultPrivileges,
                publicSchemaCreate: undefined,
                grantees: pulumi.output(args.grantees).apply((g) => [...g].sort()),
                publicConnect: undefined,
                roles: args.roles === undefined ? undefined : sortedMemberships(args.roles),
                passwords: undefined,
                rolesNow: undefined,
            },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["connection", "passwords", "existingPasswords"] }),
            "app-databases",
            "DatabaseAccess",
        );
    }

    /** The name of the role it makes in `slot`, once made (what uses the role depends on this resource). */
    nameOf(slot: string): pulumi.Output<string> {
        return this.roles.apply((roles) => roles![slot].name);
    }

    /** The password of the role it makes in `slot` (secret). */
    passwordOf(slot: string): pulumi.Output<string> {
        return pulumi.secret(this.passwords.apply((passwords) => passwords![slot]));
    }
}
