/**
 * Team state (README "Team state"): the README's SQL, run as written, makes a
 * least-privilege state role and database on a real server; two workstations
 * (two clones of the program, two PULUMI_HOMEs) share one stack through
 * Pulumi's PostgreSQL backend. While the first one's `up` runs, the second's
 * is refused with the lock message naming the first; afterwards both read the
 * same outputs and the second's preview changes nothing.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TestCluster } from "../kit/postgres";
import { copyWorkTreeProgram, PROJECT_ROOT } from "../kit/program";

const cluster = new TestCluster();
const root = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-team-state-"));
const STATE_PASSWORD = "state-role-password-for-the-test";
const PASSPHRASE = "the-team-passphrase";
const STACK = "team";

/** The psql heredoc of README's "Team state" section: the SQL between `<<'SQL'` and `SQL`. */
function readmeStateSql(): string {
    const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### Team state"));
    const sql = /<<'SQL'\n([\s\S]*?)\nSQL\n/.exec(section)?.[1];
    if (!sql) throw new Error("README's Team state section has no psql heredoc");
    return sql;
}

interface Workstation {
    readonly dir: string;
    readonly env: NodeJS.ProcessEnv;
}

/** A clone of the program with its own PULUMI_HOME (the toolchain's plugins copied in), pointed at the shared backend. */
function workstation(name: string): Workstation {
    const dir = path.join(root, name, "project");
    fs.mkdirSync(dir, { recursive: true });
    copyWorkTreeProgram(dir);
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
    const home = path.join(root, name, "pulumi-home");
    fs.cpSync(path.join(PROJECT_ROOT, ".pulumi-home", "plugins"), path.join(home, "plugins"), { recursive: true });
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        PULUMI_HOME: home,
        PGPASSWORD: STATE_PASSWORD,
        PULUMI_BACKEND_URL: `postgres://pulumi_state@127.0.0.1:${cluster.port}/pulumi_state?sslmode=disable`,
        PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    };
    return { dir, env };
}

const pulumi = (ws: Workstation, ...args: string[]) =>
    spawnSync("pulumi", [...args, "--stack", STACK, "--non-interactive"], { cwd: ws.dir, env: ws.env, encoding: "utf8" });

let a: Workstation;
let b: Workstation;

beforeAll(async () => {
    await cluster.start();
    const psql = spawnSync(
        "psql",
        [
            `host=127.0.0.1 port=${cluster.port} user=${cluster.adminUser} dbname=postgres`,
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            `state_password=${STATE_PASSWORD}`,
        ],
        { input: readmeStateSql(), encoding: "utf8", env: { ...process.env, PGPASSWORD: cluster.adminPassword } },
    );
    expect(psql.status, psql.stderr).toBe(0);
    a = workstation("a");
    b = workstation("b");
    const init = spawnSync("pulumi", ["stack", "init", STACK, "--non-interactive"], { cwd: a.dir, env: a.env, encoding: "utf8" });
    expect(init.status, init.stderr).toBe(0);
    // Plain config as JSON (which is YAML), keeping the salt `stack init` wrote; the secret set as users set it.
    const file = path.join(a.dir, `Pulumi.${STACK}.yaml`);
    const salt = /^encryptionsalt:\s*(\S+)/m.exec(fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "")?.[1];
    const config = {
        "app-databases:servers": { local: cluster.serverConfig() },
        "app-databases:apps": { shop: {}, ledger: {}, billing: {} },
    };
    fs.writeFileSync(file, JSON.stringify({ ...(salt ? { encryptionsalt: salt } : {}), config }, null, 2));
    const secret = pulumi(a, "config", "set", "--secret", "--path", "app-databases:servers.local.admin.password", cluster.adminPassword);
    expect(secret.status, secret.stderr).toBe(0);
    // The stack's config file travels in git: B's clone gets A's.
    fs.copyFileSync(path.join(a.dir, `Pulumi.${STACK}.yaml`), path.join(b.dir, `Pulumi.${STACK}.yaml`));
});

afterAll(async () => {
    if (a) pulumi(a, "destroy", "--yes");
    await cluster.stop();
    fs.rmSync(root, { recursive: true, force: true });
});

/** Keys of the backend's lock objects, read from its table. */
async function locks(): Promise<string[]> {
    const rows = await cluster.admin<{ key: string }>("SELECT key FROM pulumi_state WHERE key LIKE '%/locks/%'", [], "pulumi_state");
    return rows.map((r) => r.key);
}

it("refuses a second workstation's up while the first one's runs; both see the same outputs", async () => {
    // The state role is what the README says: no superuser, a limit, sole owner of its database.
    const [role] = await cluster.admin<{ rolsuper: boolean; rolconnlimit: number; owns: boolean }>(
        `SELECT rolsuper, rolconnlimit, (SELECT datdba = r.oid FROM pg_database WHERE datname = 'pulumi_state') AS owns
           FROM pg_roles r WHERE rolname = 'pulumi_state'`,
    );
    expect(role).toEqual({ rolsuper: false, rolconnlimit: 10, owns: true });

    const first = spawn("pulumi", ["up", "--yes", "--stack", STACK, "--non-interactive"], { cwd: a.dir, env: a.env });
    let firstOutput = "";
    first.stdout.on("data", (d: Buffer) => (firstOutput += d.toString()));
    first.stderr.on("data", (d: Buffer) => (firstOutput += d.toString()));
    const firstDone = new Promise<number>((resolve) => first.on("exit", (code) => resolve(code ?? -1)));

    // Wait until A holds the lock, then B tries.
    const deadline = Date.now() + 60_000;
    while ((await locks()).length === 0) {
        if (Date.now() > deadline) throw new Error(`A's up never took the lock:\n${firstOutput}`);
        await new Promise((r) => setTimeout(r, 100));
    }
    const second = pulumi(b, "up", "--yes");
    expect(second.status).not.toBe(0);
    const refusal = `${second.stdout}\n${second.stderr}`;
    expect(refusal).toContain("the stack is currently locked by 1 lock(s)");
    expect(refusal).toMatch(new RegExp(`created by \\S+@${os.hostname()} \\(pid \\d+\\)`));
    // The lock's URL masks the credentials.
    expect(refusal).toContain("postgres://****:****@127.0.0.1");
    expect(refusal).not.toContain(STATE_PASSWORD);

    expect(await firstDone, firstOutput).toBe(0);
    expect(await locks()).toEqual([]);

    const outputsOf = (ws: Workstation) => {
        const out = pulumi(ws, "stack", "output", "--json", "--show-secrets");
        expect(out.status, out.stderr).toBe(0);
        return JSON.parse(out.stdout) as Record<string, unknown>;
    };
    const fromA = outputsOf(a);
    expect(Object.keys(fromA.apps as object).sort()).toEqual(["billing", "ledger", "shop"]);
    expect(outputsOf(b)).toEqual(fromA);
    const preview = pulumi(b, "preview", "--expect-no-changes");
    expect(preview.status, `${preview.stdout}\n${preview.stderr}`).toBe(0);
});
