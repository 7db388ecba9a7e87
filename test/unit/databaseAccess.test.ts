/**
 * DatabaseAccess' pure logic: reading CONNECT grants back from `datacl`, and
 * what its diff reports. The SQL itself runs against real servers in test/e2e.
 */
import { describe, expect, it } from "vitest";
import { connectGrantees } from "../../components/databaseAccess/database";
import { AccessState, databaseAccessDiff } from "../../components/databaseAccess/provider";
import { ADMIN_CONNECTION } from "./fixtures";

const connection = ADMIN_CONNECTION;

const state: AccessState = {
    connection,
    database: "shop",
    owner: "shop_migrate",
    grantees: ["shop_app", "shop_dashboard"],
    roleSettings: [{ role: "shop_app", settings: { idle_session_timeout: "600000" } }],
    defaultPrivileges: [
        { owner: "shop_migrate", role: "shop_app", schema: "public", objectType: "table", privileges: ["INSERT", "SELECT"] },
        { owner: "shop_migrate", role: "public", objectType: "function", privileges: [] },
    ],
    publicConnect: false,
};
const { publicConnect: _public, ...inputs } = state;

describe("connectGrantees", () => {
    it.each([
        ["NULL (the defaults: PUBLIC may connect)", null, { publicConnect: true, grantees: [] }],
        [
            "PUBLIC revoked, two roles granted",
            ["shop_migrate=CTc/shop_migrate", "shop_app=Tc/shop_migrate", "reports=c/shop_migrate"],
            { publicConnect: false, grantees: ["reports", "shop_app"] },
        ],
        ["PUBLIC granted back", ["=Tc/shop_migrate", "shop_migrate=CTc/shop_migrate"], { publicConnect: true, grantees: [] }],
        ["a grant without CONNECT", ["shop_app=T/shop_migrate"], { publicConnect: false, grantees: [] }],
        ["a quoted role name", ['"odd role"=c/shop_migrate'], { publicConnect: false, grantees: ["odd role"] }],
    ])("reads %s", (_what, acl, expected) => {
        expect(connectGrantees(acl, "shop_migrate")).toEqual(expected);
    });
});

describe("databaseAccessDiff", () => {
    it("reports no change for the same inputs, whatever the order of grantees and role settings", () => {
        const reordered = {
            ...inputs,
            grantees: ["shop_dashboard", "shop_app"],
            roleSettings: [...inputs.roleSettings!].reverse(),
            defaultPrivileges: [...inputs.defaultPrivileges!].reverse(),
        };
        expect(databaseAccessDiff(state, reordered)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: true });
    });

    it.each([
        ["a grantee is added", { grantees: ["shop_app", "shop_dashboard", "other"] }],
        ["the owner changes", { owner: "other_migrate" }],
        ["a role setting changes", { roleSettings: [{ role: "shop_app", settings: { idle_session_timeout: "1000" } }] }],
        ["the server moves", { connection: { ...connection, host: "db2.lab" } }],
        ["the port changes", { connection: { ...connection, port: 5433 } }],
        // A dedicated container made anew (perhaps on an empty volume): what it made is applied again.
        ["the server instance changes", { connection: { ...connection, serverInstance: "2026-12-07T13:00:00.000Z" } }],
        // A state from before it made the database: the update records that it drops it on delete.
        ["it makes the database from now on", { createDatabase: true }],
        ["a schema is added", { schemas: ["ui"] }],
        [
            "a default privilege changes",
            { defaultPrivileges: [{ ...state.defaultPrivileges![0], privileges: ["SELECT"] }, state.defaultPrivileges![1]] },
        ],
        ["a default privilege goes", { defaultPrivileges: [state.defaultPrivileges![1]] }],
    ])("updates in place when %s", (_what, change) => {
        expect(databaseAccessDiff(state, { ...inputs, ...change })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: true });
    });

    it("updates in place when a refresh found its own database gone (made again, with the roles' passwords)", () => {
        expect(databaseAccessDiff({ ...state, databaseGone: true }, inputs)).toEqual({
            changes: true,
            replaces: [],
            deleteBeforeReplace: true,
        });
    });

    it("reports no change for the same schemas in another order", () => {
        const made = { ...state, createDatabase: true, schemas: ["ui", "api"] };
        expect(databaseAccessDiff(made, { ...inputs, createDatabase: true, schemas: ["api", "ui"] }).changes).toBe(false);
    });

    it("shows no change for a state from before default privileges were its own, when there are none to apply", () => {
        const { defaultPrivileges: _none, ...older } = state;
        expect(databaseAccessDiff(older, { ...inputs, defaultPrivileges: [] }).changes).toBe(false);
        expect(databaseAccessDiff(older, inputs).changes).toBe(true);
    });

    it("updates when PUBLIC may EXECUTE new functions again (default privileges read on refresh)", () => {
        const read = {
            ...state,
            defaultPrivileges: [state.defaultPrivileges![0], { ...state.defaultPrivileges![1], privileges: ["EXECUTE"] }],
        };
        expect(databaseAccessDiff(read, inputs).changes).toBe(true);
    });

    it("updates when PUBLIC was granted CONNECT behind its back (seen on refresh)", () => {
        expect(databaseAccessDiff({ ...state, publicConnect: true }, inputs).changes).toBe(true);
    });

    it("replaces, deleting first, when the database changes", () => {
        expect(databaseAccessDiff(state, { ...inputs, database: "shop2" })).toEqual({
            changes: true,
            replaces: ["database"],
            deleteBeforeReplace: true,
        });
    });
});
