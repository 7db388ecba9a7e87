/**
 * SharedServer under Pulumi mocks: the provider, the admin connection, and its own argument checks.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeEach, describe, expect, it } from "vitest";
import { declared, installMocks, reset, settle, valueOf } from "./mocks";

// Components are imported after the mocks are installed.
installMocks();
import { SharedServer, SharedServerArgs } from "../../components";
import {
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_MAINTENANCE_DATABASE,
    DEFAULT_PORT,
    DEFAULT_PROVISIONING_CONNECTIONS,
    DEFAULT_SSL_MODE,
} from "../../components/defaults";
import { resolveSharedServerArgs } from "../../components/sharedServer";
import { labServer as server } from "./fixtures";

beforeEach(reset);

describe("SharedServer", () => {
    it("configures the provider with a small pool and the admin password as a secret", async () => {
        const s = server();
        await valueOf(s.connection);
        await settle();
        const [provider] = declared.filter((r) => r.type === "pulumi:providers:postgresql");
        expect(provider.inputs).toMatchObject({
            host: "10.0.0.5",
            port: "5433",
            username: "pulumi_admin",
            sslmode: "require",
            maxConnections: "2",
            superuser: "false",
        });
        expect(await pulumi.isSecret(s.connection)).toBe(true);
    });
});

describe("resolveSharedServerArgs", () => {
    const args = { host: "10.0.0.5", adminUsername: "pulumi_admin", adminPassword: "admin-secret" };

    it("fills every default from the named constants", () => {
        expect(resolveSharedServerArgs(args)).toEqual({
            ...args,
            port: DEFAULT_PORT,
            sslmode: DEFAULT_SSL_MODE,
            connectTimeoutSeconds: DEFAULT_CONNECT_TIMEOUT_SECONDS,
            maintenanceDatabase: DEFAULT_MAINTENANCE_DATABASE,
            adminSuperuser: false,
            provisioningConnections: DEFAULT_PROVISIONING_CONNECTIONS,
            urlParameters: {},
        });
    });

    it.each([
        ["port is 0", { port: 0 }, "SharedServer: `port` must be a TCP port from 1 to 65535, got 0"],
        [
            "sslmode is not a libpq mode",
            { sslmode: "bogus" },
            'SharedServer: `sslmode` must be one of disable, allow, prefer, require, verify-ca, verify-full, got "bogus"',
        ],
        [
            "connectTimeoutSeconds is 0",
            { connectTimeoutSeconds: 0 },
            "SharedServer: `connectTimeoutSeconds` must be seconds from 1 to 300, got 0",
        ],
        [
            "the pool is larger than 20",
            { provisioningConnections: 50 },
            "SharedServer: `provisioningConnections` must be the provisioning tool's pool size, an integer from 1 to 20, got 50",
        ],
        [
            "the maintenance database is empty",
            { maintenanceDatabase: "" },
            'SharedServer: `maintenanceDatabase` must be a database name, got ""',
        ],
        ["host is empty", { host: "" }, "SharedServer: `host` is required"],
    ])("throws when %s, naming the argument and the value", (_what, change, message) => {
        expect(() => resolveSharedServerArgs({ ...args, ...change } as SharedServerArgs)).toThrow(message);
        expect(() => new SharedServer("x", { ...args, ...change } as SharedServerArgs)).toThrow(message);
    });
});
