/** The reads of a whole server (components/sql/catalog.ts): names are bound, never written into the text. */
import { describe, expect, it } from "vitest";
import {
    adminStandingQuery,
    foreignObjectsQuery,
    objectCountsQuery,
    othersOwnQuery,
    passwordVerifiersQuery,
    serverSettingsQuery,
} from "../../components/sql/catalog";

const ODD = "o'dd\"name";

describe("the catalog reads", () => {
    it.each([
        ["adminStandingQuery", adminStandingQuery([ODD]), [[ODD]]],
        ["passwordVerifiersQuery", passwordVerifiersQuery([ODD]), [[ODD]]],
        ["foreignObjectsQuery", foreignObjectsQuery(ODD), [ODD]],
        ["objectCountsQuery", objectCountsQuery([ODD]), [[ODD]]],
        ["othersOwnQuery", othersOwnQuery([ODD], ["a", "b"]), [[ODD], ["a", "b"]]],
    ])("%s binds its names", (_name, query, values) => {
        expect(query.values).toEqual(values);
        expect(query.text).not.toContain(ODD);
    });

    it("read the server's settings as integers", () => {
        expect(serverSettingsQuery().text).toContain("current_setting('server_version_num')::int AS version_num");
        expect(serverSettingsQuery().values).toEqual([]);
    });
});
