import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../program/config";
import { hbaConnectionType } from "../../components/hbaRules";

describe("pg_hba helpers", () => {
    it.each([
        ["require", "hostssl"],
        ["verify-full", "hostssl"],
        ["prefer", "host"],
        ["disable", "host"],
    ])("uses %s -> %s", (sslmode, type) => {
        expect(hbaConnectionType(sslmode)).toBe(type);
    });
    it.each(["10.0.0.0/33", "10.0.0/8", "fe80::/129", "lab-net"])("rejects the CIDR %s with its path", (cidr) => {
        expect(() =>
            parseStackConfig({ servers: { lab: { host: "h", admin: { username: "a", password: "p" }, clientCidrs: [cidr] } } }),
        ).toThrow(/servers\.lab\.clientCidrs\.0: expected a network in CIDR notation/);
    });
});
