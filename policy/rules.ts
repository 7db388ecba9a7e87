/**
 * The policy pack's rules as pure functions of a resource's type and inputs:
 * what the engine's analyzer hands @pulumi/policy. Kept apart from the pack's
 * wiring (index.ts) so unit tests pin every message without an engine.
 *
 * Each rule returns the violations it finds, each naming what is wrong and
 * the fix, as text.
 */

/** Attributes no app role may have (PostgreSQL name, Terraform provider input). */
export const PRIVILEGED_ATTRIBUTES = [
    ["SUPERUSER", "superuser"],
    ["CREATEROLE", "createRole"],
    ["CREATEDB", "createDatabase"],
    ["REPLICATION", "replication"],
    ["BYPASSRLS", "bypassRowLevelSecurity"],
] as const;

/** Built-in roles whose membership gives server-level powers (reading or writing files, running programs). */
export const PRIVILEGED_MEMBERSHIPS = ["postgres", "pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"];

/** The resource types the rules read. */
export const TYPES = {
    role: "postgresql:index/role:Role",
    provider: "pulumi:providers:postgresql",
    /** The tool's database resource: creates the app's login roles and holds the server's budget. */
    databaseAccess: "pulumi-nodejs:dynamic/app-databases:DatabaseAccess",
    dedicatedServer: "app-databases:index:DedicatedServer",
    appDatabase: "app-databases:index:AppDatabase",
    /** The stack's backup runner (components/backupRunner.ts), declared when the stack's `backup` block is set. */
    backupRunner: "app-databases:index:BackupRunner",
} as const;

/** A login role as DatabaseAccess declares it. */
interface AccessRole {
    readonly name?: string;
    readonly connectionLimit?: number;
    readonly memberOf?: readonly string[];
}

/** The budget DatabaseAccess is given for a shared server (components/roleBudgetLock.ts RoleBudget). */
interface RoleBudgetInput {
    readonly server?: string;
    readonly maxConnections?: number;
    readonly fixed?: number;
    readonly externalRoles?: Readonly<Record<string, number>>;
    readonly stackTotal?: number;
}

/** A scalar input as text (inputs are plain values here; anything else reads as the fallback). */
const text = (value: unknown, fallback: string): string =>
    typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? String(value) : fallback;

const rolesOf = (props: Record<string, unknown>): AccessRole[] => {
    const roles = props.roles;
    return roles && typeof roles === "object" ? (Object.values(roles) as AccessRole[]) : [];
};

/** No role with SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS, nor in a role that gives server powers. */
export function privilegedRoleViolations(type: string, props: Record<string, unknown>): string[] {
    if (type === TYPES.role) {
        const name = text(props.name, "?");
        const found = PRIVILEGED_ATTRIBUTES.filter(([, input]) => props[input] === true).map(([attr]) => attr);
        const violations = found.length
            ? [
                  `role ${name} has ${found.join(", ")}: an app role needs none of them; set ${found.map((a) => inputOf(a)).join(", ")} to false`,
              ]
            : [];
        return [...violations, ...membershipViolations(name, props.roles as readonly string[] | undefined)];
    }
    if (type === TYPES.databaseAccess) {
        return rolesOf(props).flatMap((r) => membershipViolations(String(r.name ?? "?"), r.memberOf));
    }
    return [];
}

const inputOf = (attribute: string) => PRIVILEGED_ATTRIBUTES.find(([a]) => a === attribute)![1];

function membershipViolations(role: string, memberOf: readonly string[] | undefined): string[] {
    const bad = (memberOf ?? []).filter((m) => PRIVILEGED_MEMBERSHIPS.includes(m));
    return bad.length
        ? [
              `role ${role} is a member of ${bad.join(", ")}, which gives it the powers of the server's operating system user or superuser; remove ${bad.length > 1 ? "them" : "it"} from its memberOf`,
          ]
        : [];
}

/** Every login role has a CONNECTION LIMIT (0 or more): an unbounded role can take the whole server. */
export function unboundedRoleViolations(type: string, props: Record<string, unknown>): string[] {
    if (type === TYPES.role) {
        if (props.login !== true) return [];
        const limit = props.connectionLimit;
        return typeof limit === "number" && limit >= 0
            ? []
            : [
                  `login role ${text(props.name, "?")} has no CONNECTION LIMIT (connectionLimit ${limit === undefined ? "unset" : text(limit, "?")}, no limit); set connectionLimit to what it needs`,
              ];
    }
    if (type === TYPES.databaseAccess) {
        return rolesOf(props)
            .filter((r) => !(typeof r.connectionLimit === "number" && r.connectionLimit >= 0))
            .map(
                (r) =>
                    `login role ${String(r.name ?? "?")} has no CONNECTION LIMIT; set apps.<app>.connectionLimit / migrateConnectionLimit`,
            );
    }
    return [];
}

/** sslmode values, weakest first: only verify-full checks both the certificate and the host name. */
export const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

/** The admin connection to a shared server uses verify-full (on the stacks the policy calls prod). */
export function tlsViolations(type: string, name: string, props: Record<string, unknown>, parentType: string | undefined): string[] {
    if (type !== TYPES.provider) return [];
    // A dedicated server is reached on the host's own container network and publishes no port in prod.
    if (parentType === TYPES.dedicatedServer) return [];
    const mode = text(props.sslmode, "prefer");
    // The program names a shared server's provider `<servers key>-provider`.
    const server = name.endsWith("-provider") ? name.slice(0, -"-provider".length) : "<name>";
    return mode === "verify-full"
        ? []
        : [
              `the admin connection to server ${server} (${text(props.host, "?")}:${text(props.port, "5432")}) uses sslmode ${mode}; a prod stack needs verify-full: set servers.${server}.sslmode to verify-full and servers.${server}.sslrootcert to the CA's certificate`,
          ];
}

/** Free connections on a shared server after the stack's plan, as a share of max_connections, at least `minShare`. */
export function headroomViolations(type: string, props: Record<string, unknown>, minShare: number): string[] {
    if (type !== TYPES.databaseAccess) return [];
    const budget = props.roleBudget as RoleBudgetInput | undefined;
    if (!budget || typeof budget.maxConnections !== "number" || budget.maxConnections <= 0) return [];
    const external = Object.values(budget.externalRoles ?? {}).reduce((a, b) => a + b, 0);
    const used = (budget.fixed ?? 0) + external + (budget.stackTotal ?? 0);
    const free = budget.maxConnections - used;
    const wanted = Math.ceil(budget.maxConnections * minShare);
    return free >= wanted
        ? []
        : [
              `server ${budget.server ?? "?"} keeps ${free} of max_connections ${budget.maxConnections} free (${percent(free / budget.maxConnections)}), less than the ${percent(minShare)} asked (${wanted}); lower apps' connections, or raise max_connections and servers.${budget.server ?? "<name>"}.maxConnections`,
          ];
}

const percent = (share: number) => `${Math.round(share * 1000) / 10}%`;

/** A stack with app databases declares a backup runner (the stack's `backup` block). */
export function backupViolations(resources: readonly { readonly type: string; readonly name: string }[]): string[] {
    const apps = resources.filter((r) => r.type === TYPES.appDatabase).map((r) => r.name.split("@")[0]);
    if (apps.length === 0 || resources.some((r) => r.type === TYPES.backupRunner)) return [];
    return [
        `the stack has ${apps.length} app database${apps.length > 1 ? "s" : ""} (${apps.slice(0, 5).join(", ")}${apps.length > 5 ? ", ..." : ""}) and no backups: set the stack's backup block (README "Backups and restores")`,
    ];
}

/** The stack a URN belongs to: `urn:pulumi:<stack>::<project>::...`. */
export const stackOfUrn = (urn: string): string => /^urn:pulumi:([^:]+)::/.exec(urn)?.[1] ?? "";

/** Whether the policy treats the stack as prod: its name matches one of the patterns (regular expressions). */
export const isProdStack = (stack: string, patterns: readonly string[]): boolean => patterns.some((p) => new RegExp(p).test(stack));

/** The pack's configuration, as `--policy-pack-config` gives it (each key optional). */
export interface PackConfig {
    /** Regular expressions: a stack whose name matches one is prod. @default ["^prod"] */
    readonly prodStacks: readonly string[];
    /** Share of max_connections a shared server keeps free. @default 0.1 */
    readonly minHeadroomShare: number;
}

export const DEFAULT_CONFIG: PackConfig = { prodStacks: ["^prod"], minHeadroomShare: 0.1 };
