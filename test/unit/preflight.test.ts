import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../program/config";
import { factProblems } from "../../program/preflight";

describe("factProblems", () => {
    const server = parseStackConfig({ servers: { lab: { host: "h", admin: { username: "a", password: "p" }, maxConnections: 200 } } })
        .servers.lab;
    it("flags a budget computed on more connections than the server has", () => {
        expect(factProblems("lab", server, { versionNum: 160004, maxConnections: 100, superuserReservedConnections: 3 })).toEqual([
            "servers.lab.maxConnections is 200 but the server's max_connections is 100: the budget would be computed on connections that do not exist",
        ]);
    });
    it("flags a server older than PostgreSQL 14 and a larger reserve than configured", () => {
        expect(factProblems("lab", server, { versionNum: 130010, maxConnections: 300, superuserReservedConnections: 5 })).toEqual([
            "server lab runs PostgreSQL 13; 14 or newer is needed (idle_session_timeout)",
            "servers.lab.superuserReservedConnections is 3 but the server reserves 5",
        ]);
    });
    it("is quiet when the server matches the plan", () => {
        expect(factProblems("lab", server, { versionNum: 150018, maxConnections: 200, superuserReservedConnections: 3 })).toEqual([]);
    });
});
