/**
 * The report page (scripts/reportHtml.ts): names are escaped, the embedded
 * data cannot end its script element, an over-budget server says so. The
 * page in a real browser: test/e2e/reportPage.test.ts.
 */
import { describe, expect, it } from "vitest";
import { computeBudget } from "../../components/connectionBudget";
import { renderHtmlReport, ServerReport } from "../../scripts/reportHtml";

const server = (maxConnections: number): ServerReport => ({
    server: "lab",
    roles: [{ name: "odd<role>", superuser: false, createRole: false, createDb: false, connectionLimit: 4, liveConnections: 1 }],
    databases: ["shop"],
    canConnect: { "odd<role>": ["shop"] },
    publicConnect: [],
    foreignObjects: [],
    budget: computeBudget({
        server: "lab",
        maxConnections,
        roles: { "odd<role>": 4, "x</script><script>alert(1)": 2 },
        provisioningConnections: 3,
        superuserReservedConnections: 3,
        adminHeadroom: 5,
    }),
});

describe("renderHtmlReport", () => {
    it("escapes every name, in the page and in its data", () => {
        const page = renderHtmlReport({ stack: "prod", readAt: "2026-12-07T00:00:00Z", servers: [server(100)] });
        expect(page).not.toContain("<role>");
        expect(page).toContain("odd&lt;role&gt;");
        expect(page).not.toContain("</script><script>");
        expect(page.match(/<\/script>/g)).toHaveLength(1);
        expect(page).toContain('data-total="17" data-max="100" data-free="83"');
        expect(page).toContain("fits: 17 of 100, 83 free");
    });
    it("says when a server is over budget", () => {
        const page = renderHtmlReport({ stack: "prod", readAt: "now", servers: [server(10)] });
        expect(page).toContain("OVER BUDGET: 17 of 10 (by 7)");
    });
});
