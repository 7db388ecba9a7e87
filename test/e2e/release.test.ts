/**
 * A release as a team consumes it (README "Install a release"):
 * scripts/release.sh packs the npm package, a fresh Pulumi TypeScript program
 * outside the repository installs the tarball with `npm install` (its own
 * node_modules, nothing linked to this clone), and its `up` makes a working
 * database on a real server. Also: the script refuses a tag that is not the
 * package's version.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { queryUrl, TestCluster } from "../kit/postgres";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const cluster = new TestCluster();
const work = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-release-"));
const version = (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string }).version;
let stack: TestStack | undefined;

const release = (...args: string[]) => spawnSync("bash", [path.join(PROJECT_ROOT, "scripts", "release.sh"), ...args], { encoding: "utf8" });

beforeAll(async () => {
    await cluster.start();
});

afterAll(async () => {
    await stack?.dispose();
    await cluster.stop();
    fs.rmSync(work, { recursive: true, force: true });
});

it("refuses a tag that is not the package's version", () => {
    const run = release("v99.0.0");
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
        `release.sh: tag v99.0.0 is not package.json's version ${version}: bump package.json (and CHANGELOG.md) first\n`,
    );
});

it("packs a tarball that a program outside the repository installs and deploys with", async () => {
    const run = release(`v${version}`);
    expect(run.status, run.stderr).toBe(0);
    const [tarballPath, sha] = run.stdout.trim().split("\n");
    expect(tarballPath).toBe(`dist/release/app-databases-${version}.tgz`);
    expect(sha).toMatch(/^[0-9a-f]{64}$/);
    const tarball = path.join(work, path.basename(tarballPath));
    fs.copyFileSync(path.join(PROJECT_ROOT, tarballPath), tarball);

    // What the package holds: the compiled components and their types, no tests, no program, no state.
    const listing = spawnSync("tar", ["-tzf", tarball], { encoding: "utf8" }).stdout.split("\n");
    expect(listing).toEqual(
        expect.arrayContaining(["package/dist/components/index.js", "package/dist/components/index.d.ts", "package/CHANGELOG.md"]),
    );
    expect(listing.filter((f) => /^package\/(test|program|bench|scripts|\.dev)\//.test(f))).toEqual([]);

    // A program of the team's own, as README says: the example, its dependency the tarball.
    const program = path.join(work, "program");
    fs.cpSync(path.join(PROJECT_ROOT, "examples", "single-component"), program, { recursive: true });
    const manifest = JSON.parse(fs.readFileSync(path.join(program, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    manifest.dependencies["app-databases"] = `file:${tarball}`;
    fs.writeFileSync(path.join(program, "package.json"), JSON.stringify(manifest, null, 2));

    stack = await TestStack.create({
        program: { dir: program, project: "orders-database", npmInstall: true },
        config: { host: "127.0.0.1", port: cluster.port, sslmode: "disable", adminUsername: "postgres", adminSuperuser: true },
        secrets: [{ path: "adminPassword", value: cluster.adminPassword }],
    });
    const installed = path.join(stack.dir, "node_modules", "app-databases");
    expect(fs.lstatSync(installed).isSymbolicLink()).toBe(false);
    expect((JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8")) as { version: string }).version).toBe(version);

    await stack.stack.up({ onOutput: () => undefined });
    const outputs = await stack.stack.outputs();
    expect(await queryUrl(outputs.runtimeUrl.value as string, "SELECT current_user AS u, current_database() AS db")).toEqual([
        { u: "orders_app", db: "orders" },
    ]);
    const again = await stack.stack.preview({ onOutput: () => undefined });
    expect(Object.keys(again.changeSummary)).toEqual(["same"]);
});
