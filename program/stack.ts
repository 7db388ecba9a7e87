/**
 * The whole stack from parsed config: one server per `servers` entry, one
 * AppDatabase per app, and each server's ConnectionBudget, checked before any
 * resource is declared.
 */
import * as pulumi from "@pulumi/pulumi";
import { AccessReport, AccessReportNotRead } from "../components/accessReport";
import { AppDatabase } from "../components/appDatabase";
import { BackupRunner } from "../components/backupRunner";
import { BudgetError, BudgetReport, computeBudget, ConnectionBudget, ConnectionBudgetArgs } from "../components/connectionBudget";
import { DedicatedServer } from "../components/dedicatedServer";
import { DatabaseAccess } from "../components/databaseAccess";
import { DataLossGuard } from "../components/dataLossGuard";
import { PriorResource } from "../components/priorState";
import type { RoleBudget } from "../components/roleBudgetLock";
import { PostgresServer, SharedServer } from "../components/sharedServer";
import { ResolvedApp, ServerConfig, StackConfig } from "./config";
import { footprintOf, roleNamesOf } from "./footprint";
import { pgHbaLines } from "./pgHba";
import { accessReportOutputs } from "./access";
import { appDatabaseArgs, dedicatedServerArgs, sharedServerArgs } from "./componentArgs";
import { declarePooler, pooledBudgetRows } from "./pooler";
import { DedicatedPlacement, dedicatedServersAsTheyAre } from "./dedicatedState";
import { backupConnectionLimit, BackupPlan } from "./backupConfig";
import { declareMove, MoveRecord, PlannedMove } from "./moves";

/** What the stack exports for each app; URLs are secrets. */
export interface AppOutputs {
    readonly placement: string;
    /** A `servers` key, or `dedicated-<app>`. */
    readonly server: string;
    /** Host other containers on the server's network use (dedicated), else the same as host. */
    readonly internalHost: pulumi.Output<string>;
    /** Secret: runtime URL with internalHost. */
    readonly internalRuntimeUrl: pulumi.Output<string>;
    readonly host: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    readonly database: pulumi.Output<string>;
    readonly runtimeUser: pulumi.Output<string>;
    readonly migrateUser: pulumi.Output<string>;
    readonly runtimeUrl: pulumi.Output<string>;
    /** Secret: the runtime login through the server's pooler, when it has one (migrations keep migrateUrl, direct). */
    readonly runtimePooledUrl?: pulumi.Output<string>;
    readonly migrateUrl: pulumi.Output<string>;
    readonly extraRoleUrls: pulumi.Output<Record<string, string>>;
}

export interface StackOutputs {
    readonly apps: Record<string, AppOutputs>;
    readonly budgets: Record<string, pulumi.Output<BudgetReport>>;
    /** Per shared server, the narrow pg_hba.conf lines, in the order they must appear. */
    readonly pgHba: Record<string, string[]>;
    /** Per server, who can connect where, read after the up (accessReport.ts). */
    readonly access: Record<string, pulumi.Output<AccessReport | AccessReportNotRead>>;
    /** The backup runner, when the stack has a `backup` block (README: Backups and restores). */
    readonly backup?: BackupOutputs;
    /** Per app moved with its data and not yet retired: where from and to, and the verification (README: Moving an app between placements). */
    readonly moves?: Record<string, pulumi.Output<MoveRecord>>;
}

export interface BackupOutputs {
    /** The runner container: `docker exec <runner> app-databases-backup check|status|now|list`. */
    readonly runner: pulumi.Output<string>;
    /** The directory on the Docker host backups go to, when the stack has a directory target. */
    readonly directory?: string;
    /** The S3 targets, by name: where their backups are (no credentials). */
    readonly s3: Record<string, { readonly endpoint: string; readonly bucket: string; readonly prefix: string }>;
    /** The backup role on each server. */
    readonly roles: Record<string, pulumi.Output<string>>;
    /** The apps backed up, with their schedule (in timeZone). */
    readonly apps: Record<string, { readonly server: string; readonly database: string; readonly schedule: string }>;
    readonly timeZone: string;
}

/**
 * Sessions the dynamic resources (CONNECT lock-down, role settings) hold on top
 * of the provider's pool: they run one at a time (adminConnection.ts). The
 * benchmark measured 3 tool sessions at peak with a pool of 2.
 */
export const DYNAMIC_SQL_SESSIONS = 1;

/** Every role this stack manages on a server, with its CONNECTION LIMIT. */
export function managedRoleLimits(apps: readonly ResolvedApp[]): Record<string, number> {
    const limits: Record<string, number> = {};
    for (const app of apps) for (const role of footprintOf(app).roles) limits[role.name] = role.connectionLimit;
    return limits;
}

/**
 * The budget inputs of each server: every shared server, and each dedicated
 * app's own container (whose max_connections is sized from it unless set).
 */
export function budgetArgs(config: StackConfig): ConnectionBudgetArgs[] {
    const shared = Object.entries(config.servers).map(([name, server]) => ({
        server: name,
        maxConnections: server.maxConnections,
        roles: {
            ...managedRoleLimits(Object.values(config.apps).filter((a) => a.server === name)),
            ...backupRoleLimit(config.backup, name),
        },
        externalRoles: server.externalRoles,
        provisioningConnections: server.provisioningConnections + DYNAMIC_SQL_SESSIONS,
        superuserReservedConnections: server.superuserReservedConnections,
        adminHeadroom: server.adminHeadroom,
        ...(server.pooler ? { pooled: pooledBudgetRows(name, server, config.apps) } : {}),
    }));
    const dedicated = Object.values(config.apps).flatMap((app) =>
        app.dedicated
            ? [
                  {
                      server: app.server,
                      maxConnections: app.dedicated.maxConnections,
                      roles: managedRoleLimits([app]),
                      provisioningConnections: app.dedicated.provisioningConnections + DYNAMIC_SQL_SESSIONS,
                      superuserReservedConnections: app.dedicated.superuserReservedConnections,
                      adminHeadroom: app.dedicated.adminHeadroom,
                  },
              ]
            : [],
    );
    return [...shared, ...dedicated];
}

/** The backup role's CONNECTION LIMIT on a server whose apps are backed up, by its name. */
export function backupRoleLimit(plan: BackupPlan | undefined, server: string): Record<string, number> {
    const apps = plan?.apps.filter((a) => a.server === server) ?? [];
    return plan && apps.length > 0 ? { [plan.role]: backupConnectionLimit(apps) } : {};
}

/** The backup runner and its role on every server with an app backed up. */
function declareBackupRunner(config: StackConfig, plan: BackupPlan, servers: Record<string, PostgresServer>): BackupRunner {
    const keys = [...new Set(plan.apps.map((a) => a.server))];
    return new BackupRunner("app-databases-backup", {
        stack: pulumi.getStack(),
        image: plan.image,
        role: plan.role,
        timeZone: plan.timeZone,
        ...(plan.target ? { target: plan.target } : {}),
        s3: plan.s3.map((t) => ({ ...t, accessKeyId: pulumi.secret(t.accessKeyId), secretAccessKey: pulumi.secret(t.secretAccessKey) })),
        protect: config.protect,
        apps: plan.apps,
        servers: Object.fromEntries(
            keys.map((key) => {
                const server = config.servers[key];
                const limit = backupRoleLimit(plan, key)[plan.role];
                return [
                    key,
                    {
                        connection: servers[key].connection,
                        host: server.host,
                        port: server.port,
                        sslmode: server.sslmode,
                        connectionLimit: limit,
                    },
                ];
            }),
        ),
    });
}

/**
 * Throws a BudgetError naming every server over budget; pure, runs before any
 * resource exists. `previous` (each entry's connections at the last up, per
 * server) marks what changed in the table.
 */
export function checkBudgets(
    config: StackConfig,
    args: readonly ConnectionBudgetArgs[] = budgetArgs(config),
    previous: Readonly<Record<string, Readonly<Record<string, number>>>> = {},
): BudgetReport[] {
    const reports = args.map(computeBudget);
    const over = reports.filter((r) => !r.fits);
    if (over.length > 0) throw new BudgetError(over, previous);
    return reports;
}

function declareDedicatedServer(
    app: ResolvedApp,
    maxConnections: number,
    protect: boolean,
    placement?: DedicatedPlacement,
): PostgresServer {
    const args = dedicatedServerArgs(app, pulumi.getStack(), maxConnections, protect);
    const where = placement ? { volume: placement.volume, keptVolumes: placement.keptVolumes } : {};
    return new DedicatedServer(app.server, {
        ...args,
        ...where,
        ...(placement?.instance !== undefined ? { instance: placement.instance } : {}),
    });
}

function declareSharedServer(name: string, server: ServerConfig): PostgresServer {
    const args = sharedServerArgs(server);
    return new SharedServer(name, { ...args, adminPassword: pulumi.secret(args.adminPassword) });
}

/**
 * Declares every resource of the stack. Call only with config that parsed;
 * `budgetInputs` are the budget arguments with the servers' live roles (liveBudget.ts),
 * `existing` per app the names it would create that the server holds already (adoption.ts),
 * `stateAtLastUp` what an earlier version left in the state (lastUp.ts), awaited
 * once the guard is declared.
 */
export async function declareStack(
    config: StackConfig,
    budgetInputs: readonly ConnectionBudgetArgs[] = budgetArgs(config),
    existing: Readonly<Record<string, readonly string[]>> = {},
    stateAtLastUp: readonly PriorResource[] | PromiseLike<readonly PriorResource[]> = [],
    moves: readonly PlannedMove[] = [],
): Promise<StackOutputs> {
    checkBudgets(config, budgetInputs);
    // Each dedicated server as it is, before anything is declared: a lost volume is refused here.
    const placements = await dedicatedServersAsTheyAre(config);
    const budgets: Record<string, pulumi.Output<BudgetReport>> = {};
    const sizes: Record<string, number> = {};
    for (const args of budgetInputs) {
        const budget = new ConnectionBudget(args.server, args);
        budgets[args.server] = budget.report;
        sizes[args.server] = budget.maxConnections;
    }
    const servers: Record<string, PostgresServer> = {};
    for (const [name, server] of Object.entries(config.servers)) {
        servers[name] = declareSharedServer(name, server);
        if (server.systemDatabaseAccess) hardenSystemDatabases(name, server, servers[name]);
    }
    for (const app of Object.values(config.apps)) {
        if (app.dedicated) servers[app.server] = declareDedicatedServer(app, sizes[app.server], config.protect, placements[app.name]);
    }

    const runner = config.backup ? declareBackupRunner(config, config.backup, servers) : undefined;

    // Before any app resource: a refused move or removal fails before anything is applied.
    const guard = new DataLossGuard(
        "app-databases-guard",
        {
            protect: config.protect,
            retiredApps: config.retiredApps,
            existing: Object.fromEntries(Object.entries(existing).filter(([, names]) => names.length > 0)),
            apps: Object.fromEntries(
                Object.values(config.apps).map((app) => [
                    app.name,
                    {
                        server: app.server,
                        placement: app.placement,
                        database: app.database,
                        roles: roleNamesOf(footprintOf(app)),
                        ...(app.allowMoveFrom ? { allowMoveFrom: app.allowMoveFrom } : {}),
                    },
                ]),
            ),
        },
        // It guarded removals alone under this name and type; the alias keeps what it remembers.
        { aliases: [{ name: "app-databases-removals", type: "pulumi-nodejs:dynamic/app-databases:RemovalGuard" }] },
    );

    // The guard is the stack's first dynamic resource: sent now, it has the engine start
    // the dynamic provider (a second) while the apps are declared (nextTurn).
    await nextTurn();
    const priorState = await stateAtLastUp;
    const apps: Record<string, AppOutputs> = {};
    const roleBudgets = sharedRoleBudgets(config, budgetInputs);
    const lockDowns: Record<string, Record<string, pulumi.CustomResource>> = {};
    const appComponents: Record<string, AppDatabase> = {};
    const backedUp = new Set(config.backup?.apps.map((a) => a.app) ?? []);
    const moveRecords: Record<string, pulumi.Output<MoveRecord>> = {};
    for (const app of Object.values(config.apps)) {
        // The server is part of the name: a move creates everything anew on the new
        // server instead of silently re-pointing state at a server that lacks it.
        const db = new AppDatabase(
            `${app.name}@${app.server}`,
            {
                ...appDatabaseArgs(app, servers[app.server], config.protect),
                stateAtLastUp: priorState,
                ...(roleBudgets[app.server] ? { roleBudget: roleBudgets[app.server] } : {}),
                ...(backedUp.has(app.name) && runner ? { connectGrantees: [runner.roleNames[app.server]] } : {}),
            },
            { dependsOn: [guard] },
        );
        (lockDowns[app.server] ??= {})[app.database] = db.access;
        appComponents[app.name] = db;
        const move = moves.find((m) => m.app.name === app.name);
        // A moved app's outputs wait for its data: a failed copy leaves them pointing at the old database.
        const moved = move ? declareMove(move, db, servers, priorState, guard) : undefined;
        if (moved) moveRecords[app.name] = moved.record;
        const after = moved?.after ?? (<T>(o: pulumi.Output<T>) => o);
        apps[app.name] = {
            placement: app.placement,
            server: app.server,
            internalHost: after(db.internalHost),
            internalRuntimeUrl: after(db.internalRuntimeUrl),
            host: after(db.host),
            port: after(db.port),
            database: after(db.databaseName),
            runtimeUser: after(db.runtimeUser),
            migrateUser: after(db.migrateUser),
            runtimeUrl: after(db.runtimeUrl),
            migrateUrl: after(db.migrateUrl),
            extraRoleUrls: after(db.extraRoleUrls),
        };
    }

    declarePoolers(config, apps, appComponents);

    const pgHba = Object.fromEntries(
        Object.entries(config.servers).map(([name, server]) => [
            name,
            pgHbaLines(
                name,
                server,
                Object.values(config.apps).filter((a) => a.server === name),
            ),
        ]),
    );
    const access = accessReportOutputs(config, servers, lockDowns);
    return {
        apps,
        budgets,
        pgHba,
        access,
        ...(runner && config.backup ? { backup: backupOutputs(config.backup, runner) } : {}),
        ...(Object.keys(moveRecords).length > 0 ? { moves: moveRecords } : {}),
    };
}

/** Each pooled server's PgBouncer, after its apps' roles; adds their runtimePooledUrl to `apps`. */
function declarePoolers(config: StackConfig, apps: Record<string, AppOutputs>, components: Readonly<Record<string, AppDatabase>>): void {
    for (const [name, server] of Object.entries(config.servers)) {
        if (!server.pooler) continue;
        const served = Object.values(config.apps).filter((a) => a.server === name);
        const urls = declarePooler(
            name,
            server,
            pulumi.getStack(),
            served.map((app) => ({ app, runtimeUrl: apps[app.name].runtimeUrl })),
            { dependsOn: served.map((a) => components[a.name]) },
        );
        for (const [app, url] of Object.entries(urls)) apps[app] = { ...apps[app], runtimePooledUrl: url };
    }
}

/** `<project>/<stack>`: the mark this stack's roles carry on a shared server. */
export const stackIdentity = () => `${pulumi.getProject()}/${pulumi.getStack()}`;

/** Per shared server, what its budget allows, for the check under the lock where roles are made or raised. */
export function sharedRoleBudgets(
    config: StackConfig,
    budgetInputs: readonly ConnectionBudgetArgs[],
    stack: string = stackIdentity(),
): Record<string, RoleBudget> {
    const budgets: Record<string, RoleBudget> = {};
    for (const a of budgetInputs) {
        if (!(a.server in config.servers) || a.maxConnections === undefined) continue;
        budgets[a.server] = {
            server: a.server,
            maxConnections: a.maxConnections,
            fixed: a.provisioningConnections + a.superuserReservedConnections + a.adminHeadroom,
            externalRoles: { ...(config.servers[a.server].externalRoles ?? {}) },
            stackTotal: Object.values(a.roles).reduce((sum, n) => sum + n, 0),
            stack,
        };
    }
    return budgets;
}

/**
 * Lets the event loop run once. The runtime sends a registration only when the
 * loop gets a turn, so without one every registration left together after the
 * whole declaration, and the engine waited for it before starting the dynamic
 * provider. A turn after every app instead cost 3% more CPU for less (paired
 * 100-app previews, bench/README.md).
 */
function nextTurn(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The opt-in hardening of `systemDatabaseAccess`: CONNECT on `postgres` and
 * `template1` only for the named roles and the admin; granted before PUBLIC loses it, given back to
 * PUBLIC if the option is removed.
 */
function hardenSystemDatabases(name: string, server: ServerConfig, target: PostgresServer): void {
    const grantees = [...new Set([...(server.systemDatabaseAccess ?? []), server.admin.username])];
    for (const database of ["postgres", "template1"]) {
        new DatabaseAccess(
            `${name}-${database}-access`,
            { connection: target.connection, database, grantees, restorePublicOnDelete: true },
            { parent: target as unknown as pulumi.Resource },
        );
    }
}

function backupOutputs(plan: BackupPlan, runner: BackupRunner): BackupOutputs {
    return {
        runner: runner.containerName,
        ...(plan.target ? { directory: plan.target.directory } : {}),
        s3: Object.fromEntries(plan.s3.map((t) => [t.name, { endpoint: t.endpoint, bucket: t.bucket, prefix: t.prefix }])),
        roles: { ...runner.roleNames },
        apps: Object.fromEntries(plan.apps.map((a) => [a.app, { server: a.server, database: a.database, schedule: a.schedule }])),
        timeZone: plan.timeZone,
    };
}
