/**
 * Where the PostgreSQL client tools a data copy runs (moves, dedicated
 * upgrades) are found: APP_DATABASES_PG_CLIENT_BIN, then the PostgreSQL 18
 * tools scripts/pgClientTools.ts installs into the cache (they read every
 * supported major; scripts/ is not part of the program, so the cache is
 * looked up by its path), then the machine's own PostgreSQL, newest first.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const CLIENT_BIN_ENV = "APP_DATABASES_PG_CLIENT_BIN";
const TOOLS = ["pg_dump", "pg_restore", "psql"];

/** Every directory that may hold the tools, in the order they are tried. */
export function clientBinCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
    const caches = env.APP_DATABASES_PG_CACHE
        ? [env.APP_DATABASES_PG_CACHE]
        : [
              "/var/cache/app-databases/postgres",
              path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "app-databases", "postgres"),
          ];
    const newestFirst = (dir: string, pattern: RegExp) =>
        fs.existsSync(dir)
            ? fs
                  .readdirSync(dir)
                  .filter((d) => pattern.test(d))
                  .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }))
            : [];
    return [
        ...(env[CLIENT_BIN_ENV] ? [env[CLIENT_BIN_ENV]] : []),
        ...caches.flatMap((cache) =>
            newestFirst(cache, /^client-/).map((d) => path.join(cache, d, "embedded_postgres", "pginstall", "bin")),
        ),
        ...newestFirst("/usr/lib/postgresql", /^\d+$/).map((v) => path.join("/usr/lib/postgresql", v, "bin")),
    ];
}

/** The major version of the pg_dump in `bin`, or undefined when it does not run. */
export function clientMajor(bin: string): number | undefined {
    try {
        const out = execFileSync(path.join(bin, "pg_dump"), ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
        const m = /\(PostgreSQL\) (\d+)/.exec(out);
        return m ? Number(m[1]) : undefined;
    } catch {
        return undefined;
    }
}

/** The first candidate with pg_dump, pg_restore and psql (of at least `minMajor`, when given), or undefined. */
export function findClientBin(env: NodeJS.ProcessEnv = process.env, minMajor?: number): string | undefined {
    return clientBinCandidates(env).find(
        (bin) => TOOLS.every((t) => fs.existsSync(path.join(bin, t))) && (minMajor === undefined || (clientMajor(bin) ?? 0) >= minMajor),
    );
}

/** How to install the tools, for the messages of what needs them. */
export const INSTALL_CLIENT_TOOLS =
    "install them once with `node -r ts-node/register/transpile-only scripts/pgClientTools.ts` (scripts/setup.sh does; it prints their bin directory), " +
    `or set ${CLIENT_BIN_ENV} to a bin directory of PostgreSQL 18 client tools`;
