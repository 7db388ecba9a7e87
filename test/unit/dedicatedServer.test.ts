import * as pulumi from "@pulumi/pulumi";
import { beforeEach, describe, expect, it } from "vitest";
import { declared, installMocks, managedRoleNames, ofType, reset, settle, valueOf } from "./mocks";

installMocks("dev");
import { AppDatabase, DedicatedServer } from "../../components";
import { resolveDedicatedServerArgs, tuningSettings } from "../../components/dedicatedServer";
import { DEFAULT_DEDICATED_MEMORY_MB, DEFAULT_PROVISIONING_CONNECTIONS } from "../../components/defaults";

beforeEach(reset);

describe("tuningSettings", () => {
    it.each([
        [
            512,
            17,
            {
                max_connections: "17",
                shared_buffers: "128MB",
                effective_cache_size: "384MB",
                maintenance_work_mem: "32MB",
                work_mem: "7MB",
            },
        ],
        [
            2048,
            200,
            {
                max_connections: "200",
                shared_buffers: "512MB",
                effective_cache_size: "1536MB",
                maintenance_work_mem: "128MB",
                work_mem: "2MB",
            },
        ],
        [
            64,
            500,
            { max_connections: "500", shared_buffers: "16MB", effective_cache_size: "48MB", maintenance_work_mem: "16MB", work_mem: "1MB" },
        ],
    ])("sizes a %d MB container with %d connections", (memoryMb, maxConnections, expected) => {
        expect(tuningSettings(memoryMb, maxConnections)).toEqual(expected);
    });

    it("lets the user's settings win", () => {
        expect(tuningSettings(512, 20, { shared_buffers: "64MB", max_locks_per_transaction: "256" })).toMatchObject({
            shared_buffers: "64MB",
            max_locks_per_transaction: "256",
        });
    });
});

describe("DedicatedServer", () => {
    const args = { app: "grafana", stack: "dev", image: "postgres:16-alpine", memoryMb: 512, maxConnections: 17 };

    it("declares a network, a volume and a healthy-waited container per app and stack", async () => {
        const server = new DedicatedServer("dedicated-grafana", { ...args, hostPort: 56001 });
        await valueOf(server.connection);
        await settle();
        expect(ofType("docker:index/network:Network")[0].inputs).toMatchObject({ name: "app-databases-dev-grafana-net", driver: "bridge" });
        expect(ofType("docker:index/volume:Volume")[0].inputs).toMatchObject({ name: "app-databases-dev-grafana-data" });
        const [container] = ofType("docker:index/container:Container");
        expect(container.inputs).toMatchObject({
            name: "app-databases-dev-grafana-db",
            image: "postgres:16-alpine",
            restart: "unless-stopped",
            memory: 512,
            memorySwap: 512,
            wait: true,
            logDriver: "json-file",
            logOpts: { "max-size": "10m", "max-file": "3" },
            ports: [{ internal: 5432, external: 56001, ip: "127.0.0.1" }],
            volumes: [{ volumeName: "app-databases-dev-grafana-data", containerPath: "/var/lib/postgresql/data" }],
            healthcheck: { tests: ["CMD-SHELL", "pg_isready -U postgres -d postgres"] },
        });
        expect(container.inputs.labels).toEqual([
            { label: "app-databases.app", value: "grafana" },
            { label: "app-databases.stack", value: "dev" },
        ]);
        expect(container.inputs.command).toEqual([
            "postgres",
            "-c",
            "max_connections=17",
            "-c",
            "shared_buffers=128MB",
            "-c",
            "effective_cache_size=384MB",
            "-c",
            "maintenance_work_mem=32MB",
            "-c",
            "work_mem=7MB",
        ]);
        expect(container.secretInputs).toContain("envs");
        expect(container.inputs.envs[0]).toBe("POSTGRES_PASSWORD=pw-dedicated-grafana-superuser-password");
    });

    it("labels the container with its instance and gives it to the admin connection, only when given one", async () => {
        const server = new DedicatedServer("dedicated-grafana", { ...args, instance: "2026-12-07T13:00:00.000Z" });
        expect((await valueOf(server.connection)).serverInstance).toBe("2026-12-07T13:00:00.000Z");
        await settle();
        expect(ofType("docker:index/container:Container")[0].inputs.labels).toContainEqual({
            label: "app-databases.instance",
            value: "2026-12-07T13:00:00.000Z",
        });
    });

    // A container made before instances keeps its labels: no replacement on a no-op preview.
    it("gives a container without an instance no instance label", async () => {
        const old = new DedicatedServer("dedicated-grafana", args);
        expect((await valueOf(old.connection)).serverInstance).toBeUndefined();
        await settle();
        expect(ofType("docker:index/container:Container")[0].inputs.labels.map((l: { label: string }) => l.label)).toEqual([
            "app-databases.app",
            "app-databases.stack",
        ]);
    });

    it("runs on an upgrade's volume and keeps the old one, retained on delete and under its own resource name", async () => {
        const server = new DedicatedServer("dedicated-grafana", {
            ...args,
            protect: true,
            volume: "app-databases-dev-grafana-data-17",
            keptVolumes: ["app-databases-dev-grafana-data"],
        });
        await valueOf(server.connection);
        await settle();
        const volumes = ofType("docker:index/volume:Volume").map((v) => [v.name, v.inputs.name]);
        expect(volumes).toEqual([
            ["dedicated-grafana-data-17", "app-databases-dev-grafana-data-17"],
            ["dedicated-grafana-data", "app-databases-dev-grafana-data"],
        ]);
        expect(ofType("docker:index/container:Container")[0].inputs.volumes).toEqual([
            { volumeName: "app-databases-dev-grafana-data-17", containerPath: "/var/lib/postgresql/data" },
        ]);
        const [kept] = server.keptVolumes as unknown as { __protect?: boolean }[];
        expect((server.volume as unknown as { __protect?: boolean }).__protect).toBe(true);
        // Not protected: once the user removed it from the engine, the program drops it without an error.
        expect(kept.__protect).toBeFalsy();
    });

    it("publishes no port in prod and points apps at the container name", async () => {
        const server = new DedicatedServer("dedicated-grafana", { ...args, stack: "prod", protect: true });
        await valueOf(server.connection);
        await settle();
        expect(ofType("docker:index/container:Container")[0].inputs.ports).toEqual([]);
        expect(await valueOf(server.endpoint.host)).toBe("app-databases-prod-grafana-db");
        expect(await valueOf(server.endpoint.internalHost!)).toBe("app-databases-prod-grafana-db");
        const volume = server.volume as unknown as { __protect?: boolean };
        expect(volume.__protect).toBe(true);
    });

    it("points the postgresql provider at the published port, after the container", async () => {
        const server = new DedicatedServer("dedicated-grafana", { ...args, hostPort: 56001 });
        await valueOf(server.connection);
        await settle();
        const [provider] = declared.filter((r) => r.type === "pulumi:providers:postgresql");
        expect(provider.inputs).toMatchObject({
            host: "127.0.0.1",
            port: "56001",
            username: "postgres",
            sslmode: "disable",
            superuser: "true",
        });
        expect(provider.secretInputs).toContain("password");
        expect(await pulumi.isSecret(server.connection)).toBe(true);
    });

    it("gives an AppDatabase on it the same roles and both addresses", async () => {
        const server = new DedicatedServer("dedicated-grafana", { ...args, hostPort: 56001 });
        const db = new AppDatabase("grafana", { app: "grafana", server });
        expect(await valueOf(db.runtimeUrl)).toBe(
            "postgresql://grafana_app:pw-grafana-access-runtime@127.0.0.1:56001/grafana?sslmode=disable&connect_timeout=10",
        );
        expect(await valueOf(db.internalRuntimeUrl)).toBe(
            "postgresql://grafana_app:pw-grafana-access-runtime@app-databases-dev-grafana-db:5432/grafana?sslmode=disable&connect_timeout=10",
        );
        await settle();
        const roles = declared.find((r) => r.name === "grafana-access")!;
        expect(managedRoleNames(roles)).toEqual(["grafana_migrate", "grafana_app"]);
    });

    it("writes a pg_hba.conf that lets the app's roles in from its network only, before any role exists", async () => {
        const server = new DedicatedServer("dedicated-grafana", {
            ...args,
            hostPort: 56001,
            clients: { database: "grafana", roles: ["grafana_migrate", "grafana_app"] },
        });
        await valueOf(server.connection);
        await settle();
        const [hba] = ofType("pulumi-nodejs:dynamic/app-databases:ServerHba");
        expect(hba.inputs.lines).toEqual([
            "# app-databases: pg_hba.conf of grafana's dedicated server, written by its stack (first match wins)",
            "local   all postgres trust",
            "# app-databases (dedicated grafana): narrow rules, above the broad fallback",
            "host    grafana grafana_app     172.18.0.0/16 scram-sha-256",
            "host    grafana grafana_migrate 172.18.0.0/16 scram-sha-256",
            "# app-databases (dedicated grafana): the same roles from anywhere else, or to any other database",
            "host    all     grafana_app     all           reject",
            "host    all     grafana_migrate all           reject",
            "host    all postgres 172.18.0.0/16 scram-sha-256",
            "host    all all all reject",
        ]);
        expect(hba.secretInputs).toContain("connection");
    });

    it("throws naming the client role that is not an identifier", () => {
        expect(() => new DedicatedServer("x", { ...args, clients: { database: "grafana", roles: ["grafana_app", "Bad Role"] } })).toThrow(
            /DedicatedServer: `clients.roles.1` expected a plain PostgreSQL identifier/,
        );
    });

    it("throws naming hostPort when it is not a port", () => {
        expect(() => new DedicatedServer("x", { ...args, hostPort: 70000 })).toThrow(/`hostPort` must be a TCP port, got 70000/);
    });
});

describe("resolveDedicatedServerArgs", () => {
    const base = { app: "grafana", stack: "dev", image: "postgres:16-alpine", maxConnections: 20 };

    it("fills every default from the named constants", () => {
        expect(resolveDedicatedServerArgs(base)).toEqual({
            ...base,
            memoryMb: DEFAULT_DEDICATED_MEMORY_MB,
            settings: {},
            provisioningConnections: DEFAULT_PROVISIONING_CONNECTIONS,
            protect: false,
            volume: "app-databases-dev-grafana-data",
            keptVolumes: [],
        });
    });

    it.each([
        ["the app name is not an identifier", { app: "Grafana" }, "DedicatedServer: `app` expected a plain PostgreSQL identifier"],
        ["memoryMb is below 64", { memoryMb: 10 }, "DedicatedServer: `memoryMb` must be a memory limit in MB, at least 64, got 10"],
        ["maxConnections is 0", { maxConnections: 0 }, "DedicatedServer: `maxConnections` must be max_connections as an integer, got 0"],
        [
            "hostPort is privileged",
            { hostPort: 80 },
            "DedicatedServer: `hostPort` must be a TCP port, got 80; expected a host port from 1024 to 65535",
        ],
        [
            "a setting name is not a setting",
            { settings: { "bad name": "1" } },
            'DedicatedServer: `settings` must name PostgreSQL settings, got "bad name"',
        ],
        [
            "a setting value has spaces",
            { settings: { work_mem: "4 MB; rm" } },
            "DedicatedServer: `settings.work_mem` must be a plain value",
        ],
        ["the image is empty", { image: "" }, 'DedicatedServer: `image` must be a Docker image reference, got ""'],
        [
            "the volume is another app's",
            { volume: "app-databases-dev-wiki-data" },
            'DedicatedServer: `volume` must be app-databases-dev-grafana-data or app-databases-dev-grafana-data-<major>, got "app-databases-dev-wiki-data"',
        ],
        [
            "a kept volume is the one it runs on",
            { volume: "app-databases-dev-grafana-data-17", keptVolumes: ["app-databases-dev-grafana-data-17"] },
            "DedicatedServer: `keptVolumes` must name other volumes than `volume`, each once",
        ],
    ])("throws when %s, naming the argument and the value", (_what, change, message) => {
        expect(() => resolveDedicatedServerArgs({ ...base, ...change })).toThrow(message);
    });
});
