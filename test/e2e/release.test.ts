/**
 * A release as a team consumes it (README "Install a release"), from one run
 * of scripts/release.sh: a fresh Pulumi TypeScript program outside the
 * repository installs the npm tarball with `npm install` (its own
 * node_modules, nothing linked to this clone) and its `up` makes a working
 * database on a real server; the plugin archive goes into an empty PULUMI_HOME
 * with `pulumi plugin install --file`, the Python SDK's wheel into a fresh
 * virtualenv with pip offline, and examples/python's `up` runs with them.
 * Also: the script refuses a tag that is not the package's version.
 */
import { spawnSync, SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LanguageStack, pythonVenv, run } from "../kit/languageStack";
import { queryUrl, TestCluster } from "../kit/postgres";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const cluster = new TestCluster();
const work = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-release-"));
const version = (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string }).version;
const RELEASE = path.join(PROJECT_ROOT, "dist", "release");
const files = {
    npm: `app-databases-${version}.tgz`,
    plugin: `pulumi-resource-app-databases-v${version}-linux-amd64.tar.gz`,
    wheel: `pulumi_app_databases-${version}-py3-none-any.whl`,
    goSdk: `app-databases-go-sdk-v${version}.tar.gz`,
    schema: `app-databases-schema-v${version}.json`,
};
let stack: TestStack | undefined;
let python: LanguageStack | undefined;
let made: SpawnSyncReturns<string>;

const release = (...args: string[]) => spawnSync("bash", [path.join(PROJECT_ROOT, "scripts", "release.sh"), ...args], { encoding: "utf8" });

beforeAll(async () => {
    await cluster.start();
    made = release(`v${version}`);
}, 900_000);

afterAll(async () => {
    await stack?.dispose();
    await python?.dispose();
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

it("writes every artifact and SHA256SUMS, which checks", () => {
    expect(made.status, made.stderr).toBe(0);
    const lines = made.stdout.trim().split("\n");
    expect(lines.map((l) => l.split(/ +/)[1])).toEqual(Object.values(files));
    for (const line of lines) expect(line).toMatch(/^[0-9a-f]{64} {2}\S+$/);
    expect(fs.readFileSync(path.join(RELEASE, "SHA256SUMS"), "utf8")).toBe(made.stdout);
    expect(spawnSync("sha256sum", ["-c", "SHA256SUMS"], { cwd: RELEASE, encoding: "utf8" }).status).toBe(0);
    // The Go SDK is a module directory.
    const goListing = spawnSync("tar", ["-tzf", path.join(RELEASE, files.goSdk)], { encoding: "utf8" }).stdout.split("\n");
    expect(goListing).toEqual(expect.arrayContaining(["./go.mod", "./go.sum", "./appdatabases/fleet.go"]));
    const archiveMb = fs.statSync(path.join(RELEASE, files.plugin)).size / 2 ** 20;
    console.info(`plugin archive: ${archiveMb.toFixed(1)} MiB`);
});

it("packs a tarball that a program outside the repository installs and deploys with", async () => {
    expect(made.status, made.stderr).toBe(0);
    const tarballPath = path.join(RELEASE, files.npm);
    const tarball = path.join(work, path.basename(tarballPath));
    fs.copyFileSync(tarballPath, tarball);

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

it("installs the plugin archive into an empty PULUMI_HOME and the wheel offline, and examples/python comes up with them", async () => {
    expect(made.status, made.stderr).toBe(0);
    // What the user's machine has: the CLI and its language hosts (on PATH), the providers the toolchain builds.
    const toolchainHome = process.env.PULUMI_HOME ?? path.join(PROJECT_ROOT, ".pulumi-home");
    const home = path.join(work, "pulumi-home");
    fs.mkdirSync(home);
    const env = { PULUMI_HOME: home, PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" };
    for (const dir of fs.readdirSync(path.join(toolchainHome, "plugins")).filter((d) => /^resource-[a-z]+-v[\d.]+$/.test(d))) {
        const [, name, pluginVersion] = /^resource-([a-z]+)-v(.+)$/.exec(dir)!;
        const binary = path.join(toolchainHome, "plugins", dir, `pulumi-resource-${name}`);
        run("pulumi", ["plugin", "install", "resource", name, pluginVersion, "--file", binary], work, env);
    }
    // README "Install a release", as written.
    const archive = path.join(work, files.plugin);
    fs.copyFileSync(path.join(RELEASE, files.plugin), archive);
    run("pulumi", ["plugin", "install", "resource", "app-databases", version, "--file", archive], work, env);
    expect(run("pulumi", ["plugin", "ls"], work, env)).toMatch(
        new RegExp(`^app-databases +resource +${version.replace(/\./g, "\\.")} `, "m"),
    );

    // examples/python as a team's own program: no `packages:` entry naming a clone, the SDK from the wheel.
    const dir = path.join(work, "python", "project");
    fs.cpSync(path.join(PROJECT_ROOT, "examples", "python"), dir, {
        recursive: true,
        filter: (src) => !/\/(venv|sdks|__pycache__)$/.test(src),
    });
    const project = path.join(dir, "Pulumi.yaml");
    fs.writeFileSync(project, fs.readFileSync(project, "utf8").replace(/^# The plugin's folder[\s\S]*$/m, ""));
    expect(fs.readFileSync(project, "utf8")).not.toContain("packages:");
    const venvPython = pythonVenv(dir);
    // The SDK's one dependency the Pulumi SDK lacks (parver), as a team's mirror would hold it; then pip offline.
    const wheelhouse = path.join(work, "wheelhouse");
    run(venvPython, ["-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--dest", wheelhouse, "parver"], work);
    run(
        venvPython,
        [
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-index",
            "--find-links",
            wheelhouse,
            path.join(RELEASE, files.wheel),
        ],
        work,
    );

    python = await LanguageStack.create({
        dir,
        config: {
            host: "127.0.0.1",
            port: String(cluster.port),
            sslmode: "disable",
            adminUsername: cluster.adminUser,
            adminSuperuser: "true",
        },
        secrets: { adminPassword: cluster.adminPassword },
        env,
    });
    await python.stack.up({ onOutput: () => undefined });
    const out = await python.outputs();
    expect(await queryUrl(out.ordersRuntimeUrl.value, "SELECT current_user AS u, current_database() AS db")).toEqual([
        { u: "orders_app", db: "orders" },
    ]);
    // The plugin that ran is the installed release: its provider is app-databases at this version.
    expect(python.stateFile()).toContain(`pulumi:providers:app-databases::default_${version.replace(/\./g, "_")}`);
    const again = await python.stack.preview({ onOutput: () => undefined });
    expect(Object.keys(again.changeSummary).filter((k) => k !== "same")).toEqual([]);
});
