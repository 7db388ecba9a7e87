import { budgetEntries } from "../../program/keyedOutputs";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { declared, installMocks, settle, valueOf } from "./mocks";

/** One shared server with a two-instance pooler, two apps on it. */
const STACK_CONFIG = {
    servers: {
        local: {
            ...{ host: "127.0.0.1", port: 55432, sslmode: "disable" },
            admin: { username: "postgres", password: "admin-pw", superuser: true },
            pooler: { hostPort: 56432, instances: 2, reservePoolSize: 1 },
        },
    },
    apps: { grafana: { connectionLimit: 8 }, wiki: { connectionLimit: 4 } },
    // Unit tests reach no server.
    preflight: false,
};

// The program reads stack config when imported: set it, then import index.ts.
installMocks("dev");
pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(STACK_CONFIG).map(([k, v]) => [`app-databases:${k}`, JSON.stringify(v)])), [
    "app-databases:servers",
]);

describe("index.ts with a pooler", async () => {
    const program = await (await import("../../index")).default();
    await valueOf(program.apps.grafana.runtimePooledUrl!);
    await settle();
    const ofType = (type: string) => declared.filter((r) => r.type === type);

    it("declares one host-network PgBouncer container per instance, each with its config written by PoolerConfig", () => {
        expect(ofType("app-databases:index:PgBouncer").map((r) => r.name)).toEqual(["local-pooler"]);
        const containers = ofType("docker:index/container:Container");
        expect(containers.map((c) => [c.name, c.inputs.name, c.inputs.networkMode, c.inputs.image])).toEqual([
            ["local-pooler-pgbouncer-0", "app-databases-dev-local-pgbouncer-0", "host", "app-databases/pgbouncer:1.18"],
            ["local-pooler-pgbouncer-1", "app-databases-dev-local-pgbouncer-1", "host", "app-databases/pgbouncer:1.18"],
        ]);
        const configs = ofType("pulumi-nodejs:dynamic/app-databases:PoolerConfig");
        expect(configs).toHaveLength(2);
        for (const c of configs) expect(c.secretInputs).toContain("files");
        const ini: string = configs[0].inputs.files["pgbouncer.ini"];
        // 8 over 2 instances, less the reserve: 3 + 1 each; 4 over 2: 1 + 1.
        expect(ini).toContain("grafana = host=127.0.0.1 port=55432 dbname=grafana pool_size=3 reserve_pool=1 max_db_connections=4");
        expect(ini).toContain("wiki = host=127.0.0.1 port=55432 dbname=wiki pool_size=1 reserve_pool=1 max_db_connections=2");
        expect(ini).toContain("listen_port = 56432");
        const users: string = configs[0].inputs.files["userlist.txt"];
        expect(
            users
                .split("\n")
                .filter(Boolean)
                .map((l) => l.split(" ")[0]),
        ).toEqual(['"grafana_app"', '"wiki_app"']);
    });

    it("exports a secret runtimePooledUrl on the pooler's port, the direct URLs as they were", async () => {
        const url = program.apps.grafana.runtimePooledUrl!;
        expect(await pulumi.isSecret(url)).toBe(true);
        const pooled = new URL(await valueOf(url));
        const direct = new URL(await valueOf(program.apps.grafana.runtimeUrl));
        expect([pooled.hostname, pooled.port, pooled.pathname, pooled.username]).toEqual(["127.0.0.1", "56432", "/grafana", "grafana_app"]);
        expect(pooled.password).toBe(direct.password);
        expect(pooled.searchParams.get("sslmode")).toBe("disable");
        expect(direct.port).toBe("55432");
    });

    it("shows the pooler's rows in the budget report", async () => {
        const report = await valueOf(program.budgets.local);
        // Outputs key the budget's entries by name (program/keyedOutputs.ts).
        expect(
            budgetEntries(report)
                .filter((e) => e.kind === "pooler")
                .map((e) => [e.name, e.connections]),
        ).toEqual([
            ["(pooler) grafana_app", 8],
            ["(pooler) wiki_app", 4],
        ]);
    });
});
