import { describe, expect, it } from "vitest";
import { editDistance, nearestName } from "../../program/nearest";

describe("editDistance", () => {
    it.each([
        ["server", "servers", 1],
        ["hots", "host", 1],
        ["Placement", "placement", 0],
        ["abc", "", 3],
        ["kitten", "sitting", 3],
    ])("from %j to %j is %i", (a, b, d) => {
        expect(editDistance(a, b)).toBe(d);
    });
});

describe("nearestName", () => {
    const keys = ["servers", "apps", "placement", "dedicated", "protect", "retiredApps", "preflight"];
    it.each([
        ["server", "servers"],
        ["app", "apps"],
        ["retiredapps", "retiredApps"],
        ["protcet", "protect"],
        ["zzz", undefined],
        ["ap", undefined],
    ])("for %j is %j", (word, near) => {
        expect(nearestName(word, keys)).toBe(near);
    });
});
