/**
 * A dedicated app's major-version upgrade carries its data, on a real Docker
 * engine through the real Pulumi engine: PostgreSQL 15 -> 17 by dump and
 * restore into a new volume while the old container serves, then the cutover.
 * Rows in two schemas, a sequence in use and a view are as before (counts and
 * checksums), the passwords are the same (the same runtime URL), the app works
 * through the new outputs, the old volume is kept, a downgrade is refused with
 * nothing changed, and the documented rollback (version back to "15") runs the
 * app on the old volume again.
 */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installClientTools } from "../../scripts/pgClientTools";
import { freePort, queryUrl } from "../kit/postgres";
import { PROJECT_ROOT, TestStack } from "../kit/stack";

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();
/** The stack's containers and volumes on the engine (name and id), as a comparable text. */
const engineOf = (stack: string) =>
    (["container", "volume"] as const)
        .map((kind) =>
            docker(
                kind,
                "ls",
                ...(kind === "container" ? ["-a"] : []),
                "--filter",
                `label=app-databases.stack=${stack}`,
                "--format",
                kind === "container" ? "{{.Names}} {{.ID}} {{.State}}" : "{{.Name}}",
            )
                .split("\n")
                .filter(Boolean)
                .sort()
                .join("\n"),
        )
        .join("\n");

const config = (port: number, version: string) => ({
    placement: "dedicated",
    dedicated: { image: "app-databases/postgres:{version}", version: "15", memoryMb: 256, publishPort: true },
    apps: { ledger: { connectionLimit: 4, schemas: ["public", "billing"], dedicated: { hostPort: port, version } } },
});

/** Every table's row count and an order-free checksum, the sequence's position and the view, read through one URL. */
const FIGURES_SQL = `SELECT (SELECT count(*) FROM public.notes)::int AS notes,
       (SELECT md5(string_agg(id || ':' || body, ',' ORDER BY id)) FROM public.notes) AS notes_sum,
       (SELECT count(*) FROM billing.invoices)::int AS invoices,
       (SELECT md5(string_agg(id || ':' || amount, ',' ORDER BY id)) FROM billing.invoices) AS invoices_sum,
       (SELECT last_value FROM billing.invoice_no)::int AS invoice_no,
       (SELECT total::text FROM billing.totals) AS view_total`;

const run = (stack: TestStack, op: "preview" | "up") => stack.printed(op);

async function failing(stack: TestStack, op: "preview" | "up"): Promise<string> {
    let out = "";
    const onOutput = (s: string) => (out += s);
    await expect(op === "up" ? stack.stack.up({ onOutput }) : stack.stack.preview({ onOutput })).rejects.toThrow();
    return out;
}

describe("a dedicated app's major-version upgrade, 15 -> 17, with its data", () => {
    let stack: TestStack;
    let port: number;
    let names: { container: string; volume: string; upgraded: string };
    let before: Record<string, any>;
    let figures: Record<string, unknown>;

    beforeAll(async () => {
        execFileSync("bash", [path.join(PROJECT_ROOT, "scripts", "postgres-image.sh")], {
            env: { ...process.env, APP_DATABASES_PG_MAJOR: "17" },
            stdio: ["ignore", "inherit", "inherit"],
        });
        // The program copy has no scripts/: it is told where the client tools are, as README says.
        process.env.APP_DATABASES_PG_CLIENT_BIN = installClientTools();
        port = await freePort();
        stack = await TestStack.create({ config: config(port, "15") });
        const base = `app-databases-${stack.stack.name}-ledger`;
        names = { container: `${base}-db`, volume: `${base}-data`, upgraded: `${base}-data-17` };
        await run(stack, "up");
        before = (await stack.outputs()).apps.ledger;
        await queryUrl(
            before.migrateUrl,
            `CREATE TABLE public.notes (id serial PRIMARY KEY, body text NOT NULL);
             INSERT INTO public.notes (body) SELECT 'note ' || g FROM generate_series(1, 1000) g;
             CREATE SEQUENCE billing.invoice_no START 5000;
             CREATE TABLE billing.invoices (id bigint PRIMARY KEY DEFAULT nextval('billing.invoice_no'), amount numeric(10,2) NOT NULL);
             INSERT INTO billing.invoices (amount) SELECT g * 1.25 FROM generate_series(1, 1000) g;
             CREATE VIEW billing.totals AS SELECT sum(amount) AS total FROM billing.invoices;`,
        );
        figures = (await queryUrl(before.runtimeUrl, FIGURES_SQL))[0];
        expect(figures).toMatchObject({ notes: 1000, invoices: 1000, invoice_no: 5999, view_total: "625625.00" });
    }, 240_000);

    afterAll(async () => {
        await stack?.dispose();
        // The kept volumes are retained on delete by design: this test made them, it removes them.
        if (stack)
            for (const v of docker("volume", "ls", "-q", "--filter", `label=app-databases.stack=${stack.stack.name}`)
                .split("\n")
                .filter(Boolean))
                docker("volume", "rm", v);
    });

    it("copies the data into a PostgreSQL 17 server on a new volume, cuts over, and keeps the old volume", async () => {
        await stack.setConfig(config(port, "17"));
        const up = await run(stack, "up");
        expect(up).toContain(
            `dedicated server of app ledger: apps.ledger.dedicated.version "17" upgrades its data from PostgreSQL 15 (volume ${names.volume}`,
        );
        expect(up).toContain("database ledger copied to PostgreSQL 17 and verified (2 tables, 2000 rows, counts and checksums equal");
        const after = (await stack.outputs()).apps.ledger;
        // The same passwords: the very same URLs.
        expect(after.runtimeUrl).toBe(before.runtimeUrl);
        expect(after.migrateUrl).toBe(before.migrateUrl);
        expect((await queryUrl(after.runtimeUrl, FIGURES_SQL))[0]).toEqual(figures);
        expect(await queryUrl(after.runtimeUrl, "SELECT current_setting('server_version_num')::int / 10000 AS major")).toEqual([
            { major: 17 },
        ]);
        expect(docker("inspect", "-f", "{{.Config.Image}} {{range .Mounts}}{{.Name}}{{end}}", names.container)).toBe(
            `app-databases/postgres:17 ${names.upgraded}`,
        );
        expect(docker("volume", "ls", "-q", "--filter", `name=${names.volume}`).split("\n").sort()).toEqual([names.volume, names.upgraded]);
        // The app works on it: the runtime role writes (the sequence goes on), the migrate role runs DDL, the runtime role cannot.
        expect(await queryUrl(after.runtimeUrl, "INSERT INTO billing.invoices (amount) VALUES (1) RETURNING id::int")).toEqual([
            { id: 6000 },
        ]);
        await queryUrl(after.migrateUrl, "ALTER TABLE public.notes ADD COLUMN tag text");
        await expect(queryUrl(after.runtimeUrl, "CREATE TABLE public.nope (id int)")).rejects.toThrow(/permission denied/);
        const preview = stack.cli("preview", "--expect-no-changes");
        expect(preview.status, preview.stdout + preview.stderr).toBe(0);
    }, 240_000);

    it("refuses a downgrade with its reason, in the preview and the up, changing nothing", async () => {
        const engine = engineOf(stack.stack.name);
        const started = docker("inspect", "-f", "{{.State.StartedAt}}", names.container);
        await stack.setConfig(config(port, "14"));
        const refusal =
            `apps.ledger.dedicated.version is "14" but the server's data (volume ${names.upgraded}) is PostgreSQL 17: a downgrade is refused. ` +
            "PostgreSQL 14 cannot start on a data directory 17 wrote, and a dump of 17 may use what 14 lacks, so the tool does not carry data to an older major " +
            "(no kept volume holds PostgreSQL 14 data to roll back to). Nothing was applied; the running container is left as it is. " +
            'Keep apps.ledger.dedicated.version "17"';
        expect(await failing(stack, "preview")).toContain(refusal);
        expect(await failing(stack, "up")).toContain(refusal);
        expect(engineOf(stack.stack.name)).toBe(engine);
        expect(docker("inspect", "-f", "{{.State.StartedAt}}", names.container)).toBe(started);
        expect(await queryUrl(before.runtimeUrl, "SELECT count(*)::int AS n FROM billing.invoices")).toEqual([{ n: 1001 }]);
    }, 120_000);

    it("rolls back by setting the version back: the app runs on the kept PostgreSQL 15 volume, the 17 one is kept", async () => {
        await stack.setConfig(config(port, "15"));
        const up = await run(stack, "up");
        expect(up).toContain(
            `apps.ledger.dedicated.version "15" rolls back to volume ${names.volume} (PostgreSQL 15, the data as the upgrade copied it)`,
        );
        expect((await stack.outputs()).apps.ledger.runtimeUrl).toBe(before.runtimeUrl);
        // The data as it was when the upgrade copied it: the invoice written on 17 stays in the kept 17 volume.
        expect((await queryUrl(before.runtimeUrl, FIGURES_SQL))[0]).toEqual(figures);
        expect(await queryUrl(before.runtimeUrl, "SELECT current_setting('server_version_num')::int / 10000 AS major")).toEqual([
            { major: 15 },
        ]);
        expect(docker("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", names.container)).toBe(names.volume);
        expect(docker("volume", "ls", "-q", "--filter", `name=${names.volume}`).split("\n").sort()).toEqual([names.volume, names.upgraded]);

        // Retiring the kept volume as README says: remove it, and the next up lets go of it.
        docker("volume", "rm", names.upgraded);
        await run(stack, "up");
        const preview = stack.cli("preview", "--expect-no-changes");
        expect(preview.status, preview.stdout + preview.stderr).toBe(0);
        expect((await queryUrl(before.runtimeUrl, "SELECT count(*)::int AS n FROM public.notes"))[0]).toEqual({ n: 1000 });
    }, 240_000);
});
