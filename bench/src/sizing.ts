/**
 * max_connections of the benchmark server, from N. The program's ConnectionBudget
 * must fit: every app's runtime (2) and migrate (1) limit, +1 for the one-limit
 * change, the provisioning pool, superuser_reserved_connections (3) and admin
 * headroom (5). The spare slots are for what the tools really open beyond their
 * budget (measured, not assumed), the sampler and the catalog checks.
 */
export const SPARE_CONNECTIONS = 60;

export function budgetTotal(n: number, pool: number): number {
    return 3 * n + 1 + pool + 3 + 5;
}

export function maxConnectionsForPool(n: number, pool: number): number {
    return budgetTotal(n, pool) + SPARE_CONNECTIONS;
}

/**
 * The largest N the benchmark takes. App names stay valid at any N (`app1000`);
 * the server's max_connections grows with N (3071 at 1000: about 60 MB more
 * shared memory for the slots and their lock table, nothing else to size).
 */
export const MAX_APPS = 1000;
