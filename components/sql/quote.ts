/**
 * The one place names and values become SQL text. Every statement of the
 * tool is built from these (components/sql/), so a name can never end a
 * quoted identifier early nor a value a string literal.
 */

/** A statement with its bind parameters, as node-postgres' `client.query` takes it. */
export interface Query {
    readonly text: string;
    readonly values: unknown[];
}

/** A role where SQL takes a role specification: a name, or one of PostgreSQL's keywords. */
export type RoleRef = string | typeof PUBLIC | typeof CURRENT_USER;

/** PUBLIC, every role, where a grantee is named. */
export const PUBLIC = { keyword: "PUBLIC" } as const;
/** The role of the session (the admin), where a role is named. */
export const CURRENT_USER = { keyword: "CURRENT_USER" } as const;

/** Double-quotes an identifier; names are validated before they get here, this is belt and braces. */
export function ident(name: string): string {
    return `"${name.replace(/"/g, '""')}"`;
}

/** Identifiers, comma-separated. */
export const idents = (names: readonly string[]): string => names.map(ident).join(", ");

/** A role specification: a quoted name, or the keyword. */
export const role = (r: RoleRef): string => (typeof r === "string" ? ident(r) : r.keyword);

/**
 * A string literal, as node-postgres' escapeLiteral writes it: quotes
 * doubled, and a backslash doubled in an E'' string, so it reads the same
 * whatever standard_conforming_strings says.
 */
export function literal(value: string): string {
    const body = value.replace(/'/g, "''");
    return value.includes("\\") ? ` E'${body.replace(/\\/g, "\\\\")}'` : `'${body}'`;
}
