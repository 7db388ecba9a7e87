/**
 * What the program throws when it refuses a config: a RunError whose message is
 * the whole story (every problem, and that the outputs are unchanged) and
 * without a stack, which Pulumi's runtime would otherwise format at length.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { declared, installMocks } from "./mocks";

installMocks("dev");

async function refusalFor(config: Record<string, unknown>): Promise<Error> {
    pulumi.runtime.setAllConfig(
        Object.fromEntries(Object.entries(config).map(([k, v]) => [`app-databases:${k}`, typeof v === "string" ? v : JSON.stringify(v)])),
    );
    const program = (await import("../../index")).default;
    try {
        await program();
    } catch (err) {
        return err as Error;
    }
    throw new Error("expected the program to refuse the config");
}

const server = { host: "127.0.0.1", admin: { username: "postgres", password: "pw" }, maxConnections: 20 };

describe("a refused config", () => {
    it.each([
        [
            "an invalid value",
            { servers: { local: server }, apps: { grafana: { connectionLimit: 0 } }, preflight: false },
            "apps.grafana.connectionLimit",
        ],
        [
            "an over-budget server",
            { servers: { local: server }, apps: { grafana: { connectionLimit: 50 } }, preflight: false },
            "grafana_app",
        ],
    ])("throws a RunError without a stack for %s, naming the problem and that outputs are unchanged", async (_case, config, names) => {
        const err = await refusalFor(config);
        expect(pulumi.RunError.isInstance(err)).toBe(true);
        expect(err.stack).toBeUndefined();
        expect(err.message).toContain(names);
        expect(err.message).toContain("The stack's outputs are unchanged");
        expect(declared).toEqual([]);
    });

    it("takes an emptied apps key (null in the stack file) as no apps", async () => {
        const err = await refusalFor({ servers: { local: { ...server, port: 0 } }, apps: "null", preflight: false });
        expect(err.message).toContain("servers.local.port");
        expect(err.message).not.toContain("apps");
    });
});
