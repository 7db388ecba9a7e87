/**
 * Rules for the names this program sends to PostgreSQL.
 *
 * Every database and role name must be a plain, unquoted identifier. Names are
 * validated, never quoted through: a name that would need quoting (or that
 * smuggles SQL) is rejected before anything is declared.
 */

/** PostgreSQL truncates identifiers longer than NAMEDATALEN - 1 bytes. */
export const MAX_IDENTIFIER_BYTES = 63;

/** Suffix of the role that owns the database and runs DDL. */
export const MIGRATE_ROLE_SUFFIX = "_migrate";

/** Suffix of the role the application runs as. */
export const RUNTIME_ROLE_SUFFIX = "_app";

/**
 * The second runtime login of an app with zero-downtime rotation
 * (`<app>_app_alt`, a member of `<app>_app`); no longer than the migrate
 * suffix, so the length check on `<app>_migrate` covers it.
 */
export const ALTERNATE_RUNTIME_ROLE_SUFFIX = "_app_alt";

export const UNQUOTED_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * Keywords PostgreSQL reserves (SQL Key Words appendix, "reserved" and
 * "reserved, can be function or type"), plus role names with a special meaning.
 */
const RESERVED_WORDS = new Set([
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    // Role names with a meaning of their own in GRANT and ALTER ROLE.
    "public",
    "none",
]);

/** Names that belong to the server itself. */
const SYSTEM_NAMES = new Set(["postgres", "template0", "template1"]);

/**
 * Why `name` is not usable as a database or role name, or `undefined` if it is.
 * The message says what was expected, so it can be shown to the user as is.
 */
export function identifierProblem(name: string): string | undefined {
    if (name.length === 0) {
        return "expected a non-empty name";
    }
    if (!UNQUOTED_IDENTIFIER.test(name)) {
        const suggestion = suggestedIdentifier(name);
        const hint = suggestion !== undefined && identifierProblem(suggestion) === undefined ? `; try ${suggestion}` : "";
        return `expected a plain PostgreSQL identifier (lowercase letters, digits and _, not starting with a digit), got ${JSON.stringify(name)}${hint}`;
    }
    const bytes = Buffer.byteLength(name, "utf8");
    if (bytes > MAX_IDENTIFIER_BYTES) {
        return `expected at most ${MAX_IDENTIFIER_BYTES} bytes, got ${bytes} in ${JSON.stringify(name)}`;
    }
    if (name.startsWith("pg_")) {
        return `the pg_ prefix is reserved by PostgreSQL, got ${JSON.stringify(name)}`;
    }
    if (SYSTEM_NAMES.has(name) || name.startsWith("template")) {
        return `${JSON.stringify(name)} is a system name (postgres, template*); choose another`;
    }
    if (RESERVED_WORDS.has(name)) {
        return `${JSON.stringify(name)} is a reserved SQL keyword; choose another`;
    }
    return undefined;
}

/** Letters that NFKD does not split into a base letter and marks. */
const UNDECOMPOSED: Readonly<Record<string, string>> = { ß: "ss", æ: "ae", œ: "oe", ø: "o", ł: "l", đ: "d", ð: "d", þ: "th", ı: "i" };

/**
 * The plain identifier closest to `name` (claude-bridge -> claude_bridge), or
 * undefined when nothing is left. Accented letters keep their base letter
 * (café -> cafe, Müller -> muller) so the suggestion keeps the name's meaning.
 */
export function suggestedIdentifier(name: string): string | undefined {
    const plain = name
        .toLowerCase()
        .normalize("NFKD")
        .replace(/\p{M}+/gu, "")
        .replace(/[^\x00-\x7f]/g, (c) => UNDECOMPOSED[c] ?? c)
        .replace(/[^a-z0-9_]+/g, "_")
        .replace(/^_+|_+$/g, "");
    if (plain.length === 0) return undefined;
    return /^[0-9]/.test(plain) ? `_${plain}` : plain;
}

/**
 * Why `name` cannot be a role this program connects as (the admin), or
 * `undefined`. Looser than identifierProblem: an existing role may be a system
 * name such as `postgres`, but it is still sent unquoted, so its syntax is checked.
 */
export function existingRoleProblem(name: string): string | undefined {
    if (SYSTEM_NAMES.has(name)) return undefined;
    return identifierProblem(name);
}

/** The role names an application gets. */
export interface RoleNames {
    readonly migrate: string;
    readonly runtime: string;
    /** The second runtime login, made only with zero-downtime rotation. */
    readonly alternateRuntime: string;
}

/** Other names for an app's two roles: an existing owner role taken over, e.g. a hand-made `grafana`. */
export interface RoleNameOverrides {
    readonly migrate?: string;
    readonly runtime?: string;
}

/**
 * `<app>_migrate`, `<app>_app` and (zero-downtime rotation only) `<app>_app_alt`,
 * unless `overrides` names them; the alternate login is the runtime name + `_alt`.
 */
export function roleNamesFor(app: string, overrides: RoleNameOverrides = {}): RoleNames {
    const runtime = overrides.runtime ?? app + RUNTIME_ROLE_SUFFIX;
    return {
        migrate: overrides.migrate ?? app + MIGRATE_ROLE_SUFFIX,
        runtime,
        alternateRuntime: runtime + ALTERNATE_RUNTIME_ROLE_SUFFIX.slice(RUNTIME_ROLE_SUFFIX.length),
    };
}

/** Every role name an app gets, migrate first; the alternate runtime login with zero-downtime rotation. */
export function roleListFor(app: string, zeroDowntime = false, overrides: RoleNameOverrides = {}): string[] {
    const names = roleNamesFor(app, overrides);
    return zeroDowntime ? [names.migrate, names.runtime, names.alternateRuntime] : [names.migrate, names.runtime];
}

/** Schemas PostgreSQL owns (pg_catalog, pg_toast, information_schema, ...): nothing of theirs is the app's. */
export function isSystemSchema(schema: string): boolean {
    return schema === "information_schema" || schema.startsWith("pg_");
}

/** The schema list's problem (a bad name, a repeat, a system schema, none at all), or undefined. */
export function schemasProblem(schemas: readonly string[]): string | undefined {
    if (schemas.length === 0) return "expected at least one schema, got none";
    for (const schema of schemas) {
        if (isSystemSchema(schema)) return `${JSON.stringify(schema)} is PostgreSQL's own schema; name the app's schemas`;
        const problem = schema === "public" ? undefined : identifierProblem(schema);
        if (problem) return problem;
    }
    const repeated = schemas.find((s, i) => schemas.indexOf(s) !== i);
    return repeated ? `${JSON.stringify(repeated)} is listed twice` : undefined;
}

/** Whether two lists hold the same names, in any order. */
export const sameSet = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && [...a].sort().every((v, i) => v === [...b].sort()[i]);
