/// <reference lib="dom" />
/**
 * The report as a page to look at (`report --html FILE`), in a real browser:
 * Debian's chromium, headless, driven by puppeteer-core. The page loads with
 * no console error; its budget bar, budget rows, connect matrix and
 * connection counts equal the JSON report's (`report --json`) on a real server
 * with hand-made roles (a superuser, and an unbounded one made after the up) and a database whose
 * PUBLIC keeps CONNECT, which it highlights. A screenshot is written.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import puppeteer, { Browser } from "puppeteer-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ServerReport } from "../../scripts/reportHtml";
import { TestCluster } from "../kit/postgres";
import { TestStack } from "../kit/stack";

/** Debian's chromium (scripts/setup.sh installs it). */
const CHROMIUM = "/usr/bin/chromium";
const cluster = new TestCluster({ maxConnections: 50 });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-report-page-"));
let stack: TestStack;
let browser: Browser;

beforeAll(async () => {
    await cluster.start();
    for (const sql of [
        "CREATE ROLE old_super LOGIN SUPERUSER PASSWORD 'hand-made'",
        "CREATE ROLE metabase LOGIN CONNECTION LIMIT 3 PASSWORD 'hand-made'",
        "CREATE DATABASE legacy_db",
    ]) {
        await cluster.admin(sql);
    }
    stack = await TestStack.create({
        config: {
            servers: { local: cluster.serverConfig({ maxConnections: 50 }) },
            apps: { shop: { connectionLimit: 10 }, ledger: { connectionLimit: 5 } },
        },
        secrets: [{ path: "servers.local.admin.password", value: cluster.adminPassword }],
    });
    await stack.stack.up({ onOutput: () => undefined });
    // Made after the up (the budget refuses a plan with an unbounded role): drift the page must show.
    await cluster.admin("CREATE ROLE legacy_unbounded LOGIN PASSWORD 'hand-made'");
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
});

afterAll(async () => {
    await browser?.close();
    await stack?.dispose();
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
});

it("shows the JSON report's numbers in a page that loads without errors", async () => {
    const json = stack.report("--json");
    expect(json.status, json.stderr).toBe(0);
    const [report] = JSON.parse(json.stdout) as ServerReport[];
    const file = path.join(dir, "report.html");
    const html = stack.report("--html", file);
    expect(html.status, html.stderr).toBe(0);
    expect(html.stdout).toBe("");

    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warn") problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(String(e)));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
    await page.setViewport({ width: 1100, height: 900 });
    await page.goto(`file://${file}`, { waitUntil: "load" });
    expect(problems).toEqual([]);

    // The budget: the bar's figures and every row, as the JSON report counts them.
    const budget = report.budget!;
    expect(budget.entries.map((e) => e.name)).toEqual(expect.arrayContaining(["shop_app", "legacy_unbounded", "metabase"]));
    const bar = await page.$eval(".bar", (el) => ({ ...(el as HTMLElement).dataset }));
    expect(bar).toEqual({ server: "local", total: String(budget.total), max: "50", free: String(budget.free) });
    const rows = await page.$$eval("table.budget tr[data-entry]", (trs) =>
        trs.map((tr) => [(tr as HTMLElement).dataset.entry, Number((tr as HTMLElement).dataset.connections), tr.className]),
    );
    expect(rows.map(([name, n]) => [name, n])).toEqual(budget.entries.map((e) => [e.name, e.connections]));
    expect(rows.find(([name]) => name === "legacy_unbounded")?.[2]).toBe("attention");
    expect(rows.find(([name]) => name === "shop_app")?.[2]).toBe("");
    expect(await page.$$eval(".bar .seg", (s) => s.length)).toBe(
        budget.entries.filter((e) => e.connections > 0 && e.counted !== false).length,
    );

    // The matrix: every role x database cell, and each role's connections against its limit.
    const cells = await page.$$eval("td.cell", (tds) =>
        tds.map((td) => `${(td as HTMLElement).dataset.role}@${(td as HTMLElement).dataset.database}=${td.textContent}`),
    );
    const expected = report.roles.flatMap((r) =>
        report.databases.map((d) => `${r.name}@${d}=${report.canConnect[r.name]?.includes(d) ? "yes" : "-"}`),
    );
    expect(cells).toEqual(expected);
    const conns = await page.$$eval("td[data-conns]", (tds) => tds.map((td) => [(td as HTMLElement).dataset.conns, td.textContent]));
    expect(conns).toEqual(report.roles.map((r) => [r.name, `${r.liveConnections}/${r.connectionLimit < 0 ? "none" : r.connectionLimit}`]));
    // What needs a look is highlighted: PUBLIC CONNECT on legacy_db, the unbounded role, the superuser.
    const findings = await page.$$eval(".findings li", (lis) => lis.map((li) => li.textContent));
    expect(findings).toContain("PUBLIC still has CONNECT on: legacy_db, postgres (every login role may connect there)");
    const flagged = await page.$$eval("table.matrix tr.attention td:first-child", (tds) => tds.map((td) => td.textContent));
    expect(flagged).toEqual(expect.arrayContaining(["legacy_unbounded", "old_super"]));
    expect(flagged).not.toContain("shop_app");

    // The page carries the same data for tools.
    const data = await page.$eval("#report-data", (el) => JSON.parse(el.textContent ?? "null") as unknown);
    expect((data as ServerReport[])[0].budget?.total).toBe(budget.total);

    const shot = path.join(dir, "report.png");
    await page.screenshot({ path: shot, fullPage: true });
    expect(fs.readFileSync(shot).subarray(1, 4).toString()).toBe("PNG");
    if (process.env.REPORT_SCREENSHOT) fs.copyFileSync(shot, process.env.REPORT_SCREENSHOT);
});
