/**
 * The pg_hba.conf lines for a shared server: one per (database, role,
 * network), narrowest network first, then one `reject` line per role for
 * every other address and database. Pasted above the broad fallback rule
 * (pg_hba.conf is read top down and the first matching line wins) a managed
 * role gets in only from its own networks, to its own database, whatever the
 * fallback allows everyone else.
 */
import { ResolvedApp, ServerConfig } from "./config";
import { footprintOf, roleNamesOf } from "./footprint";

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

export function pgHbaLines(serverName: string, server: ServerConfig, apps: readonly ResolvedApp[]): string[] {
    const type = hbaConnectionType(server.sslmode);
    const rows: { hostBits: number; db: string; role: string; cidr: string }[] = [];
    for (const app of apps) {
        const roles = roleNamesOf(footprintOf(app));
        for (const cidr of app.clientCidrs ?? server.clientCidrs) {
            for (const role of roles) rows.push({ hostBits: prefixLength(cidr), db: app.database, role, cidr });
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
        `# app-databases (${serverName}): narrow rules, above the broad fallback`,
        ...rows.map((r) => line(type, r, "scram-sha-256")),
        `# app-databases (${serverName}): the same roles from anywhere else, or to any other database`,
        ...rejects.map((r) => line("host", r, "reject")),
    ];
}
