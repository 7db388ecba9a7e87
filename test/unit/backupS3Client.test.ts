/**
 * The runner's S3 client (scripts/backup-image/s3): its own Go tests, among
 * them the signature of AWS's worked SigV4 example, run with the local Go.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

describe("the runner's S3 client", () => {
    it("signs requests as AWS documents SigV4 (go test)", () => {
        const r = spawnSync("go", ["test", "."], {
            cwd: path.resolve(__dirname, "../../scripts/backup-image/s3"),
            encoding: "utf8",
            env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod" },
        });
        expect(r.status, r.stdout + r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^ok\s+app-databases\/backup-image\/s3/m);
    }, 180_000);
});
