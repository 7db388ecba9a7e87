/**
 * An existing stack upgrades to this program with nothing changed or
 * replaced: a stack is brought up by the program as it was at UPGRADE_FROM
 * (taken from git history with `git archive`), then this program previews
 * and updates the same state. Resource names, types and parents (URNs) must
 * stay as they were, and the dynamic resources' serialized providers must not
 * make them differ. The one addition since: each dedicated server's
 * pg_hba.conf (ServerHba), created once; then a preview shows no changes. The stack covers every kind of resource: a shared server with
 * system-database hardening, the three access levels, an extra role,
 * zero-downtime rotation, a dedicated container, and the data-loss guard.
 *
 * Needs the revision in the clone's history (CI runs on a full clone).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort, TestCluster } from "../kit/postgres";
import { copyWorkTreeProgram, extractProgramAt } from "../kit/program";
import { TestStack } from "../kit/stack";

/** The last revision before components/ and program/ were split. */
const UPGRADE_FROM = process.env.APP_DATABASES_UPGRADE_FROM ?? "01c3ebd";
const [imageName, imageVersion] = (process.env.APP_DATABASES_PG_IMAGE ?? "app-databases/postgres:15").split(":");

const cluster = new TestCluster();
let stack: TestStack;
let oldProgram: string;
/** Resources the old program created (the default providers are not counted, as in every summary). */
let created: number;

beforeAll(async () => {
    await cluster.start();
    oldProgram = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-old-"));
    extractProgramAt(UPGRADE_FROM, oldProgram);
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
    const up = await stack.stack.up({ onOutput: (s) => process.stdout.write(s) });
    created = up.summary.resourceChanges?.create ?? 0;
    expect(created).toBeGreaterThan(0);
});

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
    if (oldProgram) fs.rmSync(oldProgram, { recursive: true, force: true });
});

/** The resources added since UPGRADE_FROM: the dedicated server's pg_hba.conf. */
const ADDED = ["app-databases:index:DedicatedServer$pulumi-nodejs:dynamic/app-databases:ServerHba::dedicated-solo-hba"];

it(`upgrades a stack made by the program at ${UPGRADE_FROM}, changing and replacing nothing`, async () => {
    const urns = () =>
        JSON.parse(stack.stateFile())
            .checkpoint.latest.resources.map((r: { urn: string }) => r.urn)
            .sort();
    const before = urns();
    copyWorkTreeProgram(stack.dir);

    const preview = await stack.stack.preview({ diff: true, onOutput: (s) => process.stdout.write(s) });
    const { same, ...changes } = preview.changeSummary;
    expect(changes).toEqual({ create: ADDED.length });
    expect(same).toBe(created);

    const up = await stack.stack.up({ onOutput: (s) => process.stdout.write(s) });
    const { same: unchanged, ...updated } = up.summary.resourceChanges ?? {};
    expect(updated).toEqual({ create: ADDED.length });
    expect(unchanged).toBe(created);
    const after = urns();
    const added = after.filter((urn: string) => !before.includes(urn));
    expect(added.map((urn: string) => urn.split("::").slice(2).join("::"))).toEqual(ADDED);
    expect(after.filter((urn: string) => !added.includes(urn))).toEqual(before);

    const expectNoChanges = stack.cli("preview", "--expect-no-changes", "--non-interactive");
    expect(expectNoChanges.status, expectNoChanges.stdout + expectNoChanges.stderr).toBe(0);
});
