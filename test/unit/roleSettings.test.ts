/**
 * Role settings, applied one way: the plan from old to new entries, the
 * parsing of `pg_db_role_setting`, and RoleSettings' diff. The SQL runs
 * against real servers in test/e2e.
 */
import { describe, expect, it } from "vitest";
import { parseSetconfig, roleSettingsDiff, roleSettingsKey, roleSettingsPlan } from "../../components/roleSettings";
import { ADMIN_CONNECTION } from "./fixtures";

const connection = ADMIN_CONNECTION;

describe("roleSettingsPlan", () => {
    it("sets every new entry when there was nothing before", () => {
        expect(roleSettingsPlan([], [{ role: "a_app", settings: { idle_session_timeout: "600000" } }])).toEqual([
            { role: "a_app", set: { idle_session_timeout: "600000" }, reset: [] },
        ]);
    });

    it("resets what an old entry set and the new one does not, before setting the new values", () => {
        const olds = [{ role: "a_app", settings: { idle_session_timeout: "600000", work_mem: "4MB" } }];
        const news = [{ role: "a_app", settings: { idle_session_timeout: "1000" } }];
        expect(roleSettingsPlan(olds, news)).toEqual([
            { role: "a_app", set: {}, reset: ["work_mem"] },
            { role: "a_app", set: { idle_session_timeout: "1000" }, reset: [] },
        ]);
    });

    it("resets everything of a role that is no longer listed, and leaves unnamed parameters alone", () => {
        const olds = [
            { role: "a_app", settings: { idle_session_timeout: "600000" } },
            { role: "a_dash", settings: { idle_session_timeout: "600000" } },
        ];
        expect(roleSettingsPlan(olds, [olds[0]])).toEqual([
            { role: "a_dash", set: {}, reset: ["idle_session_timeout"] },
            { role: "a_app", set: { idle_session_timeout: "600000" }, reset: [] },
        ]);
    });

    it("resets everything when the new list is empty (delete)", () => {
        expect(roleSettingsPlan([{ role: "a_app", settings: { idle_session_timeout: "1" } }], [])).toEqual([
            { role: "a_app", set: {}, reset: ["idle_session_timeout"] },
        ]);
    });
});

describe("parseSetconfig", () => {
    it.each([
        [null, ["idle_session_timeout"], {}],
        [["idle_session_timeout=600000", "work_mem=4MB"], ["idle_session_timeout"], { idle_session_timeout: "600000" }],
        [["search_path=a,b=c"], ["search_path"], { search_path: "a,b=c" }],
    ])("reads %j for %j", (setconfig, names, expected) => {
        expect(parseSetconfig(setconfig, names)).toEqual(expected);
    });
});

describe("roleSettingsKey", () => {
    it("is the same whatever the order of roles and parameters", () => {
        expect(
            roleSettingsKey([
                { role: "b", settings: { y: "1", x: "2" } },
                { role: "a", settings: {} },
            ]),
        ).toBe(
            roleSettingsKey([
                { role: "a", settings: {} },
                { role: "b", settings: { x: "2", y: "1" } },
            ]),
        );
    });
});

describe("roleSettingsDiff", () => {
    const olds = { connection, role: "a_app", settings: { idle_session_timeout: "600000" } };

    it("reports no change for the same settings", () => {
        expect(roleSettingsDiff(olds, { ...olds, settings: { idle_session_timeout: "600000" } }).changes).toBe(false);
    });

    it("updates when a value changes or the server moves", () => {
        expect(roleSettingsDiff(olds, { ...olds, settings: { idle_session_timeout: "1" } })).toEqual({
            changes: true,
            replaces: [],
            deleteBeforeReplace: true,
        });
        expect(roleSettingsDiff(olds, { ...olds, connection: { ...connection, port: 5433 } }).changes).toBe(true);
    });

    it("replaces, deleting first, when the role changes", () => {
        expect(roleSettingsDiff(olds, { ...olds, role: "b_app" }).replaces).toEqual(["role"]);
    });
});
