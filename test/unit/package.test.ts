/**
 * The component package (package/) under Pulumi mocks: plain-data args in,
 * the library's components out, the library's messages on bad input, and the
 * library's own resources as the package's custom resources.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeEach, describe, expect, it } from "vitest";
import { declared, installMocks, ofType, reset, settle, valueOf } from "./mocks";

// Components are imported after the mocks are installed.
installMocks();
import { serveFromPackage, servedProvider } from "../../components/servedResource";
import { AppDatabase, ConnectionBudget, Fleet, PACKAGE_NAME } from "../../package/index";
import { plainValue } from "../../package/plainInputs";
import { resecret, revealed } from "../../package/provider";
import { connectionIdentity, sharedServerArgs } from "../../package/server";

const SECRET = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "pw" };
const server = { host: "db.lab", port: 5432, sslmode: "disable", adminUsername: "admin", adminPassword: pulumi.secret("pw") };

// Inside the package's plugin process, as package/index.ts does.
serveFromPackage(PACKAGE_NAME);

beforeEach(reset);

describe("plainValue", () => {
    it("replaces every Output by its value, deeply (construct inputs from another language)", async () => {
        const inputs = { server: pulumi.secret({ host: "db", adminPassword: "pw" }), limits: [pulumi.output(3)], app: "orders" };
        expect(await plainValue(inputs)).toEqual({ server: { host: "db", adminPassword: "pw" }, limits: [3], app: "orders" });
    });
});

describe("revealed and resecret", () => {
    it("takes secret markers off deeply and puts them back on the properties that held one", () => {
        const inputs = { connection: { host: "db", password: SECRET }, database: "orders" };
        expect(revealed(inputs)).toEqual({ connection: { host: "db", password: "pw" }, database: "orders" });
        const outs = resecret(inputs, { connection: { host: "db", password: "pw" }, database: "orders", publicConnect: false });
        expect(outs).toEqual({
            connection: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: { host: "db", password: "pw" } },
            database: "orders",
            publicConnect: false,
        });
    });
});

describe("AppDatabase of the package", () => {
    it("declares a SharedServer and the library's AppDatabase, with the library's own resources served by the package", async () => {
        const app = new AppDatabase("orders", { app: "orders", server, access: "readonly", runtimeConnectionLimit: 4 });
        expect(await valueOf(app.runtimeUser)).toBe("orders_app");
        await settle();
        await settle();
        expect(declared.map((r) => r.type)).toEqual(
            expect.arrayContaining([
                "app-databases:index:AppDatabase",
                "app-databases:index:SharedServer",
                "pulumi:providers:postgresql",
                "app-databases:index:DatabaseAccess",
            ]),
        );
        expect(declared.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"))).toEqual([]);
        const [access] = ofType("app-databases:index:DatabaseAccess");
        expect(access.inputs).not.toHaveProperty("__provider");
        expect(access.secretInputs).toContain("connection");
        expect(servedProvider("DatabaseAccess")?.create).toBeTypeOf("function");
        await expect(pulumi.isSecret(app.runtimeUrl)).resolves.toBe(true);
    });

    it.each([
        ["a missing host", { ...server, host: "" }, {}, "SharedServer: `host` is required (the server's host name or address)"],
        ["a port out of range", { ...server, port: 0 }, {}, "SharedServer: `port` must be a TCP port from 1 to 65535, got 0"],
        [
            "an unknown sslmode",
            { ...server, sslmode: "strict" },
            {},
            'SharedServer: `sslmode` must be one of disable, allow, prefer, require, verify-ca, verify-full, got "strict"',
        ],
        [
            "an unknown access level",
            server,
            { access: "admin" },
            'AppDatabase: `access` must be one of readwrite, readonly, migrations, got "admin"',
        ],
        ["a negative limit", server, { runtimeConnectionLimit: -5 }, "RolePair: `runtimeConnectionLimit` must be"],
    ])("throws the library's message for %s, before registering anything", async (_, srv, extra, message) => {
        expect(() => new AppDatabase("bad", { app: "bad", server: srv, ...extra })).toThrow(message);
        await settle();
        expect(declared).toEqual([]);
    });
});

describe("servers shared by the package's apps", () => {
    // Each case its own host: servers are remembered per deployment, and the mocks are one deployment.
    const on = (host: string, extra: Record<string, unknown> = {}) => ({ ...server, host, adminPassword: "pw", ...extra });

    it("gives the apps on one connection one SharedServer and one provider, named by the connection", async () => {
        const orders = new AppDatabase("orders", { app: "orders", server: on("one.lab") });
        const reports = new AppDatabase("reports", { app: "reports", server: on("one.lab") });
        await valueOf(orders.runtimeUser);
        await valueOf(reports.runtimeUser);
        await settle();
        const name = connectionIdentity(sharedServerArgs(on("one.lab")))!.name;
        expect(name).toMatch(/^pg-one\.lab-5432-[0-9a-f]{10}$/);
        expect(ofType("app-databases:index:SharedServer").map((r) => r.name)).toEqual([name]);
        expect(ofType("pulumi:providers:postgresql").map((r) => r.name)).toEqual([`${name}-provider`]);
        expect(ofType("app-databases:index:DatabaseAccess").map((r) => r.name)).toEqual(["orders-access", "reports-access"]);
    });

    it.each([
        ["another host", on("two.lab"), on("three.lab"), ["pg-two.lab-", "pg-three.lab-"]],
        ["another admin", on("four.lab"), on("four.lab", { adminUsername: "other" }), ["pg-four.lab-", "pg-four.lab-"]],
        ["another password, same facts", on("five.lab"), on("five.lab", { adminPassword: "other" }), ["pg-five.lab-", "reports-server"]],
    ])("gives each app its own server on %s", async (_, first, second, prefixes) => {
        await valueOf(new AppDatabase("orders", { app: "orders", server: first }).runtimeUser);
        await valueOf(new AppDatabase("reports", { app: "reports", server: second }).runtimeUser);
        await settle();
        const names = ofType("app-databases:index:SharedServer").map((r) => r.name);
        expect(names).toHaveLength(2);
        names.forEach((n, i) => expect(n.startsWith(prefixes[i])).toBe(true));
        expect(new Set(names).size).toBe(2);
        expect(ofType("pulumi:providers:postgresql")).toHaveLength(2);
    });

    it.each([
        ["the password", { adminPassword: "other" }, true],
        ["the port", { port: 5433 }, false],
        ["the sslmode", { sslmode: "require" }, false],
        ["the pool size", { provisioningConnections: 3 }, false],
    ])("names a connection by every fact but the password: changing %s", (_, change, same) => {
        const a = connectionIdentity(sharedServerArgs(on("db.lab")))!;
        const b = connectionIdentity(sharedServerArgs(on("db.lab", change)))!;
        expect(a.name === b.name).toBe(same);
        expect(a.passwordDigest === b.passwordDigest).toBe(!("adminPassword" in change));
        expect(JSON.stringify(b)).not.toContain("other");
    });

    it("shares nothing when the admin's name or password is not known in advance", () => {
        expect(connectionIdentity(sharedServerArgs({ ...on("db.lab"), adminPassword: pulumi.output("pw") }))).toBeUndefined();
    });
});

describe("ConnectionBudget of the package", () => {
    it("reports the budget as outputs", async () => {
        const budget = new ConnectionBudget("lab", {
            server: "lab",
            maxConnections: 100,
            roles: { orders_app: 10, orders_migrate: 2 },
            provisioningConnections: 2,
            superuserReservedConnections: 3,
            adminHeadroom: 5,
        });
        expect(await valueOf(budget.total)).toBe(22);
        expect(await valueOf(budget.free)).toBe(78);
        expect(await valueOf(budget.table)).toContain("Connection budget for server lab: 22 of max_connections 100");
    });

    it("throws the budget table when it does not fit", () => {
        const over = {
            server: "lab",
            maxConnections: 10,
            roles: { a: 20 },
            provisioningConnections: 2,
            superuserReservedConnections: 3,
            adminHeadroom: 5,
        };
        expect(() => new ConnectionBudget("lab", over)).toThrow(/OVER BUDGET by 20/);
    });
});

describe("Fleet of the package", () => {
    // Each case its own host: servers are remembered per deployment, and the mocks are one deployment.
    const lab = (host: string) => ({ ...server, host, adminPassword: "pw" });

    it("declares every app on one SharedServer and one provider, with its outputs by app", async () => {
        const fleet = new Fleet("databases", {
            servers: { lab: lab("fleet.lab") },
            apps: { orders: { access: "readwrite" }, reports: { access: "readonly", runtimeConnectionLimit: 3 } },
        });
        expect(await valueOf(fleet.runtimeUsers)).toEqual({ orders: "orders_app", reports: "reports_app" });
        expect(await valueOf(fleet.databaseNames)).toEqual({ orders: "orders", reports: "reports" });
        await settle();
        expect(ofType("app-databases:index:Fleet").map((r) => r.name)).toEqual(["databases"]);
        expect(ofType("app-databases:index:SharedServer")).toHaveLength(1);
        expect(ofType("pulumi:providers:postgresql")).toHaveLength(1);
        expect(ofType("app-databases:index:AppDatabase").map((r) => r.name)).toEqual(["orders", "reports"]);
        await expect(pulumi.isSecret(fleet.runtimeUrls)).resolves.toBe(true);
    });

    it("passes adopt to the library: an existing database and role taken over, the role's password kept and secret", async () => {
        const fleet = new Fleet("databases", {
            servers: { lab: lab("adopt.lab") },
            apps: { legacy: { adopt: { database: true, roles: { legacy_app: { password: "kept" } } } } },
        });
        expect(await valueOf(fleet.runtimeUrls)).toEqual({ legacy: expect.stringContaining(":kept@") });
        await settle();
        expect(declared.map((r) => r.type)).toEqual(expect.arrayContaining(["app-databases:index:AdoptedDatabase"]));
    });

    it.each([
        [
            "a bad app after a valid one",
            { servers: { lab: server }, apps: { orders: {}, reports: { access: "admin" } } },
            'Fleet: apps.reports: AppDatabase: `access` must be one of readwrite, readonly, migrations, got "admin"',
        ],
        [
            "a bad server",
            { servers: { lab: { ...server, port: 0 } }, apps: { orders: {} } },
            "Fleet: servers.lab: SharedServer: `port` must be a TCP port from 1 to 65535, got 0",
        ],
        [
            "an app on a server not declared",
            { servers: { lab: server }, apps: { orders: { server: "prod" } } },
            'Fleet: `apps.orders.server` is "prod": expected one of lab',
        ],
        [
            "no server named with several",
            { servers: { a: server, b: server }, apps: { orders: {} } },
            "Fleet: `apps.orders.server` is required with several servers: expected one of a, b",
        ],
        [
            "two apps with one database on one server",
            { servers: { lab: server }, apps: { orders: {}, shop: { database: "orders" } } },
            "Fleet: `apps.shop` and `apps.orders` both have the database orders on server lab: give one another name",
        ],
        ["no apps", { servers: { lab: server }, apps: {} }, "Fleet: `apps` is empty: expected at least one app, by name"],
    ])("throws naming the entry for %s, before registering anything", async (_, args, message) => {
        expect(() => new Fleet("databases", args)).toThrow(message);
        await settle();
        expect(declared).toEqual([]);
    });
});
