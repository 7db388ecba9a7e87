/** A server's own files (pg_hba.conf of a server the stack owns whole), written and read through the server. */
import { literal, Query } from "./quote";

/** COPY takes no bind parameters: each line goes in as a literal, one row (one line of text format) each. */
export function writeFileStatement(path: string, lines: readonly string[]): string {
    const rows = lines.length > 0 ? `ARRAY[${lines.map(literal).join(", ")}]::text[]` : "ARRAY[]::text[]";
    return `COPY (SELECT line FROM unnest(${rows}) WITH ORDINALITY AS t(line, n) ORDER BY n) TO ${literal(path)}`;
}

/** Where the server keeps pg_hba.conf (`path`). */
export const hbaPathQuery = (): Query => ({ text: "SELECT current_setting('hba_file') AS path", values: [] });

/** A server file's text (`text`). */
export const readFileQuery = (path: string): Query => ({ text: "SELECT pg_read_file($1) AS text", values: [path] });

/** The lines of pg_hba.conf the server would reject (`line_number`, `error`). */
export const hbaErrorsQuery = (): Query => ({
    text: "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL ORDER BY line_number",
    values: [],
});

export const reloadConfig = (): string => "SELECT pg_reload_conf()";
