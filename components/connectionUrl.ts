/**
 * libpq connection URLs for the roles this program creates.
 */

export interface ConnectionUrlArgs {
    readonly host: string;
    readonly port: number;
    readonly database: string;
    readonly user: string;
    readonly password: string;
    /** Added as `sslmode` unless `parameters` already has one. */
    readonly sslmode?: string;
    /** Added as `connect_timeout` (seconds) unless `parameters` already has one. */
    readonly connectTimeoutSeconds?: number;
    /** Parameters the user chose; they win over the defaults above. */
    readonly parameters?: Readonly<Record<string, string>>;
}

/**
 * `postgresql://user:password@host:port/database?sslmode=...&connect_timeout=...`,
 * with user, password and database percent-encoded so any generated password is safe.
 */
export function connectionUrl(args: ConnectionUrlArgs): string {
    const params = new URLSearchParams(args.parameters ?? {});
    if (args.sslmode !== undefined && !params.has("sslmode")) params.set("sslmode", args.sslmode);
    if (args.connectTimeoutSeconds !== undefined && !params.has("connect_timeout")) {
        params.set("connect_timeout", String(args.connectTimeoutSeconds));
    }
    const host = args.host.includes(":") && !args.host.startsWith("[") ? `[${args.host}]` : args.host;
    const query = params.toString();
    return (
        `postgresql://${encodeURIComponent(args.user)}:${encodeURIComponent(args.password)}` +
        `@${host}:${args.port}/${encodeURIComponent(args.database)}` +
        (query ? `?${query}` : "")
    );
}
