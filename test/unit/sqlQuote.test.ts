/** The one quoting helper every statement of components/sql/ is built with. */
import { Client } from "pg";
import { describe, expect, it } from "vitest";
import { CURRENT_USER, ident, idents, literal, PUBLIC, role } from "../../components/sql/quote";

describe("ident", () => {
    it.each([
        ["shop_migrate", '"shop_migrate"'],
        ['we"ird', '"we""ird"'],
        ["Mixed Case", '"Mixed Case"'],
        ['"', '""""'],
    ])("quotes %s as %s", (name, quoted) => {
        expect(ident(name)).toBe(quoted);
    });

    it("joins a list", () => {
        expect(idents(["a", 'b"c'])).toBe('"a", "b""c"');
    });
});

describe("role", () => {
    it("quotes a name and writes a keyword as it is", () => {
        expect(role("public")).toBe('"public"');
        expect(role(PUBLIC)).toBe("PUBLIC");
        expect(role(CURRENT_USER)).toBe("CURRENT_USER");
    });
});

describe("literal", () => {
    it.each(["plain", "it's", "back\\slash", "both ' and \\", "", "line\nbreak", "ünïcode"])(
        "writes %j as node-postgres' escapeLiteral does",
        (value) => {
            expect(literal(value)).toBe(Client.prototype.escapeLiteral.call(undefined, value));
        },
    );

    it("doubles quotes, and backslashes in an E'' string", () => {
        expect(literal("it's")).toBe("'it''s'");
        expect(literal("a\\b")).toBe(" E'a\\\\b'");
    });
});
