/**
 * The narrow pg_hba.conf lines for a shared server: one per (database, role,
 * network), narrowest network first, to paste above the broad fallback rule
 * (pg_hba.conf is read top down and the first matching line wins).
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
    const width = (f: (r: (typeof rows)[number]) => string) => Math.max(...rows.map((r) => f(r).length));
    const [dw, rw, cw] = [width((r) => r.db), width((r) => r.role), width((r) => r.cidr)];
    return [
        `# app-databases (${serverName}): narrow rules, above the broad fallback`,
        ...rows.map((r) => `${type.padEnd(7)} ${r.db.padEnd(dw)} ${r.role.padEnd(rw)} ${r.cidr.padEnd(cw)} scram-sha-256`),
    ];
}
