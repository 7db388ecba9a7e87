/**
 * An existing stack upgrades to this program with no changes: a stack is
 * brought up by the program as it was at UPGRADE_FROM (taken from git
 * history with `git archive`), then this program previews and updates the
 * same state. Resource names, types and parents (URNs) must stay as they
 * were, and the dynamic resources' serialized providers must not make them
 * differ. The stack covers every kind of resource: a shared server with
 * system-database hardening, the three access levels, an extra role,
 * zero-downtime rotation, a dedicated container, and the data-loss guard.
 *
 * Needs the revision in the clone's history (CI runs on a full clone).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort, TestCluster } from "./harness/postgres";
import { PROJECT_FILES, PROJECT_ROOT, TestStack } from "./harness/stack";

/** The last revision before components/ and program/ were split. */
const UPGRADE_FROM = process.env.APP_DATABASES_UPGRADE_FROM ?? "01c3ebd";
const [imageName, imageVersion] = (process.env.APP_DATABASES_PG_IMAGE ?? "app-databases/postgres:15").split(":");

const cluster = new TestCluster();
let stack: TestStack;
let oldProgram: string;

/** The program's files at `revision`, in a new temp dir. */
function programAt(revision: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-old-"));
    try {
        const tar = execFileSync("git", [
            "-C",
            PROJECT_ROOT,
            "archive",
            "--format=tar",
            revision,
            ...PROJECT_FILES.filter(existsAt(revision)),
        ]);
        execFileSync("tar", ["-x", "-C", dir], { input: tar });
    } catch (err) {
        throw new Error(
            `cannot take the program at ${revision} from git history (a shallow clone? run \`git fetch --unshallow\`): ${(err as Error).message}`,
        );
    }
    return dir;
}

/** Whether `entry` exists in the tree of `revision` (program/ does not, before the split). */
const existsAt = (revision: string) => (entry: string) =>
    execFileSync("git", ["-C", PROJECT_ROOT, "ls-tree", "--name-only", revision, entry], { encoding: "utf8" }).trim() !== "";

/** Replaces the stack's program files with this work tree's. */
function installCurrentProgram(dir: string): void {
    for (const entry of [...PROJECT_FILES, "components", "program"]) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
    for (const entry of PROJECT_FILES) fs.cpSync(path.join(PROJECT_ROOT, entry), path.join(dir, entry), { recursive: true });
}

beforeAll(async () => {
    await cluster.start();
    oldProgram = programAt(UPGRADE_FROM);
    const port = await freePort();
    stack = await TestStack.create({
        program: { dir: oldProgram, project: "app-databases" },
        config: {
            dedicated: { image: `${imageName}:{version}`, version: imageVersion, memoryMb: 256, publishPort: true },
            servers: {
                local: {
                    host: "127.0.0.1",
                    port: cluster.port,
                    sslmode: "disable",
                    admin: { username: "postgres", superuser: true },
                    systemDatabaseAccess: ["monitor"],
                    externalRoles: { monitor: 2 },
                },
            },
            apps: {
                shop: { access: "readwrite", connectionLimit: 3, idleSessionTimeoutMs: 60000 },
                reports: { access: "readonly", connectionLimit: 2, rotation: { runtime: 1, zeroDowntime: true } },
                billing: {
                    access: "migrations",
                    database: "billing_db",
                    extraRoles: { billing_dashboard: { access: "readonly", connectionLimit: 1 } },
                },
                solo: { placement: "dedicated", connectionLimit: 4, dedicated: { hostPort: port } },
            },
        },
        secrets: [{ path: "servers.local.admin.password", value: cluster.adminPassword }],
    });
    await cluster.admin("CREATE ROLE monitor LOGIN");
    await stack.stack.up({ onOutput: (s) => process.stdout.write(s) });
});

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
    if (oldProgram) fs.rmSync(oldProgram, { recursive: true, force: true });
});

it(`upgrades a stack made by the program at ${UPGRADE_FROM} with 0 changes`, async () => {
    const before = JSON.parse(stack.stateFile())
        .checkpoint.latest.resources.map((r: { urn: string }) => r.urn)
        .sort();
    installCurrentProgram(stack.dir);

    const preview = await stack.stack.preview({ diff: true, onOutput: (s) => process.stdout.write(s) });
    const { same, ...changes } = preview.changeSummary;
    expect(changes).toEqual({});
    expect(same).toBe(before.length);

    const expectNoChanges = stack.cli("preview", "--expect-no-changes", "--non-interactive");
    expect(expectNoChanges.status, expectNoChanges.stdout + expectNoChanges.stderr).toBe(0);

    const up = await stack.stack.up({ onOutput: (s) => process.stdout.write(s) });
    const { same: unchanged, ...updated } = up.summary.resourceChanges ?? {};
    expect(updated).toEqual({});
    expect(unchanged).toBe(before.length);
    const after = JSON.parse(stack.stateFile())
        .checkpoint.latest.resources.map((r: { urn: string }) => r.urn)
        .sort();
    expect(after).toEqual(before);
});
