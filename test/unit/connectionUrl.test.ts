import { describe, expect, it } from "vitest";
import { connectionUrl } from "../../components/connectionUrl";

const base = { host: "db.example.com", port: 5432, database: "grafana", user: "grafana_app", password: "pw" };

describe("connectionUrl", () => {
    it.each([
        [{}, "postgresql://grafana_app:pw@db.example.com:5432/grafana"],
        [
            { sslmode: "require", connectTimeoutSeconds: 10 },
            "postgresql://grafana_app:pw@db.example.com:5432/grafana?sslmode=require&connect_timeout=10",
        ],
        // Parameters the user already chose are kept, not overridden.
        [
            { sslmode: "require", parameters: { sslmode: "verify-full", sslrootcert: "/ca.pem" } },
            "postgresql://grafana_app:pw@db.example.com:5432/grafana?sslmode=verify-full&sslrootcert=%2Fca.pem",
        ],
        [
            { connectTimeoutSeconds: 10, parameters: { connect_timeout: "15" } },
            "postgresql://grafana_app:pw@db.example.com:5432/grafana?connect_timeout=15",
        ],
        [{ password: "p@ss:w/rd?#" }, "postgresql://grafana_app:p%40ss%3Aw%2Frd%3F%23@db.example.com:5432/grafana"],
        [{ host: "::1" }, "postgresql://grafana_app:pw@[::1]:5432/grafana"],
    ])("builds %j", (extra, expected) => {
        expect(connectionUrl({ ...base, ...extra })).toBe(expected);
    });

    it("round-trips through the WHATWG URL parser", () => {
        const url = new URL(connectionUrl({ ...base, password: "a/b@c:d", sslmode: "disable" }));
        expect(decodeURIComponent(url.password)).toBe("a/b@c:d");
        expect(url.searchParams.get("sslmode")).toBe("disable");
    });
});
