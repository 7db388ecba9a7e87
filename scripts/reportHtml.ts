/**
 * The report as one self-contained HTML page (`npm run --silent report --
 * --html FILE`): per shared server the connection budget as a stacked bar
 * against max_connections, who can connect where as a matrix, and what needs
 * a look (unbounded or unmanaged roles, another stack's roles, PUBLIC
 * CONNECT, foreign owners, ADMIN OPTION). No script, no external file: it
 * opens from a CI artifact or a mail attachment as it is. The numbers are the
 * JSON report's, which the page also carries (`#report-data`) for tools.
 */
import type { AccessReport } from "../components/accessReport";
import type { BudgetEntryKind, BudgetReport } from "../components/connectionBudget";

export interface ServerReport extends AccessReport {
    /** The server's connection budget with its live roles; undefined when it could not be computed. */
    readonly budget?: BudgetReport;
}

export interface HtmlReportInput {
    readonly stack: string;
    /** ISO time the catalogs were read. */
    readonly readAt: string;
    readonly servers: readonly ServerReport[];
}

const escape = (text: string): string =>
    text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** Colours of the bar's segments, by who takes the connections. */
const KIND_COLOURS: Readonly<Record<BudgetEntryKind, string>> = {
    "app role": "#3b7dd8",
    "external role": "#8e6bd1",
    "unmanaged on server": "#e0a030",
    "another stack": "#d0683a",
    "superuser on server": "#c0392b",
    provisioning: "#7f8c8d",
    "superuser reserved": "#95a5a6",
    "admin headroom": "#bdc3c7",
    pooler: "#5dade2",
};

/** Kinds the page marks as needing a look. */
const ATTENTION: ReadonlySet<BudgetEntryKind> = new Set(["unmanaged on server", "another stack", "superuser on server"]);

function budgetSection(budget: BudgetReport): string {
    const scale = Math.max(budget.maxConnections, budget.total, 1);
    const segments = budget.entries
        // A pooler's connections sit inside its role's own limit: a row, not a segment of its own.
        .filter((e) => e.connections > 0 && e.counted !== false)
        .map((e) => {
            const width = (e.connections / scale) * 100;
            const title = `${e.name} (${e.kind}): ${e.connections}${e.unbounded ? ", no CONNECTION LIMIT" : ""}`;
            return `<div class="seg${e.unbounded ? " unbounded" : ""}" style="width:${width.toFixed(3)}%;background:${KIND_COLOURS[e.kind]}" title="${escape(title)}"></div>`;
        })
        .join("");
    const maxMark = `<div class="max" style="left:${((budget.maxConnections / scale) * 100).toFixed(3)}%" title="max_connections ${budget.maxConnections}"></div>`;
    const rows = budget.entries
        .map((e) => {
            const attention = e.unbounded || ATTENTION.has(e.kind);
            return `<tr class="${attention ? "attention" : ""}" data-entry="${escape(e.name)}" data-connections="${e.connections}"><td><span class="swatch" style="background:${KIND_COLOURS[e.kind]}"></span>${escape(e.name)}</td><td>${escape(e.kind)}${e.stack ? ` (${escape(e.stack)})` : ""}</td><td class="num">${e.counted === false ? `(${e.connections})` : e.connections}${e.unbounded ? " (no limit)" : ""}</td><td>${escape(e.note ?? "")}</td></tr>`;
        })
        .join("\n");
    const verdict = budget.fits
        ? `<p class="ok">fits: ${budget.total} of ${budget.maxConnections}, ${budget.free} free</p>`
        : `<p class="bad">OVER BUDGET: ${budget.total} of ${budget.maxConnections}${budget.free < 0 ? ` (by ${-budget.free})` : ""}</p>`;
    const problems = budget.problems.map((p) => `<li class="attention">${escape(p)}</li>`).join("");
    return `<h3>Connection budget</h3>
<div class="bar" data-server="${escape(budget.server)}" data-total="${budget.total}" data-max="${budget.maxConnections}" data-free="${budget.free}">${segments}${maxMark}</div>
${verdict}${problems ? `<ul>${problems}</ul>` : ""}
<table class="budget"><thead><tr><th>entry</th><th>kind</th><th>connections</th><th>note</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

function accessSection(report: AccessReport): string {
    const head = report.databases.map((d) => `<th class="db">${escape(d)}</th>`).join("");
    const rows = report.roles
        .map((r) => {
            const can = new Set(report.canConnect[r.name] ?? []);
            const flags = [r.superuser ? "SUPERUSER" : "", r.createRole ? "CREATEROLE" : "", r.createDb ? "CREATEDB" : ""].filter(Boolean);
            const limit = r.connectionLimit < 0 ? "none" : String(r.connectionLimit);
            const conns = r.liveConnections === undefined ? limit : `${r.liveConnections}/${limit}`;
            const atLimit = r.liveConnections !== undefined && r.connectionLimit >= 0 && r.liveConnections >= r.connectionLimit;
            const cells = report.databases
                .map((d) => {
                    const yes = can.has(d);
                    const open = yes && report.publicConnect.includes(d);
                    return `<td class="cell${yes ? " yes" : ""}${open ? " public" : ""}" data-role="${escape(r.name)}" data-database="${escape(d)}">${yes ? "yes" : "-"}</td>`;
                })
                .join("");
            const attention = flags.length > 0 || r.connectionLimit < 0;
            return `<tr class="${attention ? "attention" : ""}"><td>${escape(r.name)}</td><td>${flags.join(", ")}</td><td class="num${atLimit ? " bad" : ""}" data-conns="${escape(r.name)}">${conns}</td>${cells}</tr>`;
        })
        .join("\n");
    const findings = [
        ...(report.publicConnect.length > 0
            ? [`PUBLIC still has CONNECT on: ${report.publicConnect.join(", ")} (every login role may connect there)`]
            : []),
        ...report.foreignObjects.map(
            (o) => `${o.database}: ${o.kind} ${o.schema}.${o.name} is owned by ${o.owner}, not ${o.expectedOwner}`,
        ),
        ...(report.adminOptions ?? []).map(
            (a) => `${a.heldBy} holds ADMIN OPTION on ${a.role}${a.usable ? " and may use its privileges" : ""}`,
        ),
    ];
    return `<h3>Who can connect where</h3>
<table class="matrix"><thead><tr><th>login role</th><th>flags</th><th>conns/limit</th>${head}</tr></thead><tbody>
${rows}
</tbody></table>
<h3>Findings</h3>
${findings.length ? `<ul class="findings">${findings.map((f) => `<li class="attention">${escape(f)}</li>`).join("")}</ul>` : `<p class="ok">nothing to look at</p>`}`;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{margin-top:2em;border-bottom:1px solid #ccc}
.bar{position:relative;display:flex;height:28px;border:1px solid #888;background:#f4f4f4;margin:.5em 0}
.seg{height:100%;box-sizing:border-box;border-right:1px solid #fff}.seg.unbounded{background-image:repeating-linear-gradient(45deg,transparent 0 6px,rgba(255,255,255,.5) 6px 12px)}
.max{position:absolute;top:-4px;bottom:-4px;border-left:3px solid #000}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}
.num{text-align:right}.cell{text-align:center}.cell.yes{background:#e3f1e3}.cell.public{background:#fbe3c8}
.attention{background:#fff3cd}.bad{color:#b00020;font-weight:bold}.ok{color:#1b7f3b}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px}
`;

/** The whole page. Pure: the same input gives the same page. */
export function renderHtmlReport(input: HtmlReportInput): string {
    const servers = input.servers
        .map(
            (s) => `<section class="server" data-server="${escape(s.server)}">
<h2>Server ${escape(s.server)}</h2>
${s.budget ? budgetSection(s.budget) : "<p>budget not computed</p>"}
${accessSection(s)}
</section>`,
        )
        .join("\n");
    // `<` escaped so no text in the data can end the script element.
    const data = JSON.stringify(input.servers).replace(/</g, "\\u003c");
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>app-databases report: ${escape(input.stack)}</title>
<style>${STYLE}</style></head>
<body>
<h1>app-databases report: stack ${escape(input.stack)}</h1>
<p>Read from the servers' catalogs at ${escape(input.readAt)}. Highlighted: what needs a look.</p>
${servers}
<script type="application/json" id="report-data">${data}</script>
</body></html>
`;
}
