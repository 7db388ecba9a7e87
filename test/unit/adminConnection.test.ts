import { describe, expect, it } from "vitest";
import { AdminConnection, attemptsFor, rememberAttempt, sslOption, tlsAttempts } from "../../components/adminConnection";

describe("TLS of the tool's own connections (libpq's sslmode)", () => {
    it.each([
        ["disable", undefined, ["plain"]],
        ["allow", undefined, ["plain", "tls"]],
        ["prefer", undefined, ["tls", "plain"]],
        ["prefer", "/ca.pem", ["verify-ca", "plain"]],
        ["require", undefined, ["tls"]],
        ["require", "/ca.pem", ["verify-ca"]],
        ["verify-ca", "/ca.pem", ["verify-ca"]],
        ["verify-full", "/ca.pem", ["verify-full"]],
        ["verify-full", "system", ["verify-full"]],
    ] as const)("makes %s (sslrootcert %s) try %j", (sslmode, rootcert, attempts) => {
        expect(tlsAttempts(sslmode, rootcert)).toEqual(attempts);
    });

    it("never lets require fall back to plain text", () => {
        expect(tlsAttempts("require")).not.toContain("plain");
        expect(sslOption("tls")).toEqual({ rejectUnauthorized: false });
    });

    it("verifies the chain with verify-ca but not the name, and both with verify-full", () => {
        const ca = sslOption("verify-ca", { sslrootcert: "system" });
        expect(ca).toMatchObject({ rejectUnauthorized: true });
        expect(ca && ca.checkServerIdentity?.("other.host", {} as never)).toBeUndefined();
        const full = sslOption("verify-full", { sslrootcert: "system" });
        expect(full).toEqual({ rejectUnauthorized: true });
    });

    it("tries first what reached the same server last in this process, never an attempt its sslmode forbids", () => {
        const server = (port: number, sslmode: AdminConnection["sslmode"]): AdminConnection => ({
            host: "127.0.0.1",
            port,
            username: "postgres",
            password: "x",
            database: "postgres",
            sslmode,
            connectTimeoutSeconds: 5,
            superuser: true,
        });
        expect(attemptsFor(server(6001, "prefer"))).toEqual(["tls", "plain"]);
        // A server without TLS: once plain text reached it, sessions stop opening a refused TLS attempt first.
        rememberAttempt(server(6001, "prefer"), "plain");
        expect(attemptsFor(server(6001, "prefer"))).toEqual(["plain", "tls"]);
        expect(attemptsFor(server(6002, "prefer"))).toEqual(["tls", "plain"]);
        expect(attemptsFor(server(6001, "allow"))).toEqual(["plain", "tls"]);
        rememberAttempt(server(6003, "require"), "plain");
        expect(attemptsFor(server(6003, "require"))).toEqual(["tls"]);
    });
});
