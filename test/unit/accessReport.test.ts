import { describe, expect, it } from "vitest";
import { AccessReport, formatAccessReport } from "../../components/accessReport";
import { npmBannerShown, parseArgs, rawConfigFromCli } from "../../scripts/report";

const report: AccessReport = {
    server: "lab",
    roles: [
        { name: "grafana_app", superuser: false, createRole: false, createDb: false, connectionLimit: 10, liveConnections: 10 },
        { name: "postgres", superuser: true, createRole: true, createDb: true, connectionLimit: -1, liveConnections: 1 },
    ],
    databases: ["grafana", "postgres"],
    canConnect: { grafana_app: ["grafana"], postgres: ["grafana", "postgres"] },
    publicConnect: ["postgres"],
    foreignObjects: [
        { database: "grafana", schema: "public", name: "notes", kind: "table", owner: "grafana_app", expectedOwner: "grafana_migrate" },
    ],
};

describe("formatAccessReport", () => {
    const lines = formatAccessReport(report).split("\n");

    it("shows every role x database, its flags and its sessions against its limit", () => {
        expect(lines[0]).toBe("Access on server lab: 2 login roles x 2 databases (yes = can connect)");
        expect(lines[1]).toMatch(/^\s+role\s+flags\s+conns\/limit\s+grafana\s+postgres$/);
        // ! marks a role at its limit
        expect(lines[2]).toMatch(/^! grafana_app\s+10\/10\s+yes\s+-$/);
        expect(lines[3]).toMatch(/^  postgres\s+SUPERUSER,CREATEROLE,CREATEDB\s+1\/none\s+yes\s+yes$/);
    });

    it("lists PUBLIC CONNECT and objects not owned by the migrate role, with the fix", () => {
        expect(lines.slice(4)).toEqual([
            "  * PUBLIC still has CONNECT on: postgres (every login role may connect there)",
            "  * grafana: table public.notes is owned by grafana_app, not grafana_migrate (ALTER ... OWNER TO grafana_migrate)",
        ]);
    });

    it("names who besides the superusers holds ADMIN OPTION on a login role, and whether it can use the role", () => {
        const withAdmins = formatAccessReport({
            ...report,
            adminOptions: [
                { role: "grafana_app", heldBy: "provisioner", usable: false },
                { role: "grafana_migrate", heldBy: "ops", usable: true },
            ],
        });
        expect(withAdmins).toContain(
            "  * provisioner holds ADMIN OPTION on grafana_app: it may grant, alter or drop it; it cannot use its privileges (no INHERIT, no SET: PostgreSQL 16's CREATEROLE default)",
        );
        expect(withAdmins).toContain(
            "  * ops holds ADMIN OPTION on grafana_migrate: it may grant, alter or drop it and use its privileges",
        );
    });

    it("says so when there is nothing to find", () => {
        const clean = formatAccessReport({ ...report, publicConnect: [], foreignObjects: [] });
        expect(clean).toContain("PUBLIC has CONNECT on no database");
        expect(clean).toContain("every object in the app databases is owned by its app's migrate role");
    });
});

describe("the report command", () => {
    it("reads its options", () => {
        expect(parseArgs(["--stack", "prod", "--json", "--server", "lab"])).toMatchObject({ stack: "prod", json: true, server: "lab" });
        expect(parseArgs([]).stack).toBeUndefined();
    });

    it.each([[["--stack"]], [["--stack", "--json"]], [["--verbose"]]])("throws on %j with the usage", (argv) => {
        expect(() => parseArgs(argv)).toThrow(/usage: npm run report -- \[--stack NAME\]/);
    });

    it("takes the program's keys from `pulumi config --json`, JSON text or plain", () => {
        expect(
            rawConfigFromCli({
                "app-databases:servers": { value: '{"lab":{"host":"h"}}', objectValue: { lab: { host: "h" } } },
                "app-databases:protect": { value: "true" },
                "app-databases:placement": { value: "shared" },
                "aws:region": { value: "eu-west-1" },
            }),
        ).toEqual({ servers: { lab: { host: "h" } }, protect: true, placement: "shared" });
    });
});

describe("npmBannerShown", () => {
    it.each([
        [{ npm_lifecycle_event: "report" }, true],
        [{ npm_lifecycle_event: "report", npm_config_loglevel: "silent" }, false],
        [{}, false],
    ])("for %j is %j", (env, shown) => {
        expect(npmBannerShown(env)).toBe(shown);
    });
});
