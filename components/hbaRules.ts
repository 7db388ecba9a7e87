/**
 * pg_hba.conf lines, narrowest network first, then one `reject` line per role
 * for every other address and database. pg_hba.conf is read top down and the
 * first matching line wins: above a broad fallback rule a managed role gets
 * in only from its own networks, to its own database, whatever the fallback
 * allows everyone else. A shared server's admin pastes these lines
 * (program/pgHba.ts); a dedicated server gets them written (ServerHba).
 */

/** A database some roles may reach from some networks. */
export interface HbaAllow {
    readonly database: string;
    readonly roles: readonly string[];
    readonly cidrs: readonly string[];
}

/** `hostssl` when the server requires TLS, else `host`. */
export function hbaConnectionType(sslmode: string): "host" | "hostssl" {
    return ["require", "verify-ca", "verify-full"].includes(sslmode) ? "hostssl" : "host";
}

function prefixLength(cidr: string): number {
    const [address, bits] = cidr.split("/");
    // Compare IPv4 and IPv6 on one scale: bits left for hosts, fewer is narrower.
    return (address.includes(":") ? 128 : 32) - Number(bits);
}

/** pg_hba.conf's keyword for "any database" and "any address". */
const ANY = "all";

/** The narrow allow lines and the rejects behind them; `title` names the server in the two comment lines. */
export function hbaLines(title: string, type: "host" | "hostssl", allows: readonly HbaAllow[]): string[] {
    const rows: { hostBits: number; db: string; role: string; cidr: string }[] = [];
    for (const allow of allows) {
        for (const cidr of allow.cidrs) {
            for (const role of allow.roles) rows.push({ hostBits: prefixLength(cidr), db: allow.database, role, cidr });
        }
    }
    rows.sort((a, b) => a.hostBits - b.hostBits || a.db.localeCompare(b.db) || a.role.localeCompare(b.role));
    if (rows.length === 0) return [];
    // Only roles that have an allow line are rejected elsewhere: an app without networks keeps the fallback.
    // `host` matches TLS and plain connections alike, so plain text is refused where the allow lines say hostssl.
    const rejects = [...new Set(rows.map((r) => r.role))].sort().map((role) => ({ db: ANY, role, cidr: ANY }));
    const all = [...rows, ...rejects];
    const width = (f: (r: (typeof all)[number]) => string) => Math.max(...all.map((r) => f(r).length));
    const [dw, rw, cw] = [width((r) => r.db), width((r) => r.role), width((r) => r.cidr)];
    const line = (t: string, r: (typeof all)[number], method: string) =>
        `${t.padEnd(7)} ${r.db.padEnd(dw)} ${r.role.padEnd(rw)} ${r.cidr.padEnd(cw)} ${method}`;
    return [
        `# app-databases (${title}): narrow rules, above the broad fallback`,
        ...rows.map((r) => line(type, r, "scram-sha-256")),
        `# app-databases (${title}): the same roles from anywhere else, or to any other database`,
        ...rejects.map((r) => line("host", r, "reject")),
    ];
}

/**
 * The whole pg_hba.conf of a dedicated server: the superuser on the socket
 * inside the container (the image's init scripts, `docker exec`), the app's
 * roles to their database from the app's Docker network (published ports
 * arrive from its gateway too), the superuser from that network, and nothing
 * else: the image's `host all all all` line and its loopback lines are gone.
 */
export function dedicatedHbaLines(app: string, superuser: string, subnet: string, allow?: Omit<HbaAllow, "cidrs">): string[] {
    return [
        `# app-databases: pg_hba.conf of ${app}'s dedicated server, written by its stack (first match wins)`,
        `local   all ${superuser} trust`,
        ...(allow ? hbaLines(`dedicated ${app}`, "host", [{ ...allow, cidrs: [subnet] }]) : []),
        `host    all ${superuser} ${subnet} scram-sha-256`,
        // Without an app to name, any role may come from the network (never from elsewhere).
        ...(allow ? [] : [`host    all all ${subnet} scram-sha-256`]),
        `host    all all all reject`,
    ];
}
