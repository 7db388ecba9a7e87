/** From stack config to the server components' args, and the one admin connection both preflight and SharedServer use. */
import * as pulumi from "@pulumi/pulumi";
import { beforeEach, describe, expect, it } from "vitest";
import { installMocks, reset, valueOf } from "./mocks";

installMocks();
import { SharedServer } from "../../components";
import { parseStackConfig } from "../../program/config";
import { adminConnectionOf, sharedServerArgs } from "../../program/componentArgs";

beforeEach(reset);

const server = parseStackConfig({
    servers: { lab: { host: "10.0.0.5", port: 5433, sslmode: "require", admin: { username: "pulumi_admin", password: "pw" } } },
}).servers.lab;

describe("adminConnectionOf", () => {
    it("is the connection the server's SharedServer hands its dynamic resources", async () => {
        const args = sharedServerArgs(server);
        const component = new SharedServer("lab", { ...args, adminPassword: pulumi.secret(args.adminPassword) });
        expect(adminConnectionOf(server)).toEqual(await valueOf(component.connection));
        expect(adminConnectionOf(server)).toEqual({
            host: "10.0.0.5",
            port: 5433,
            username: "pulumi_admin",
            password: "pw",
            database: "postgres",
            sslmode: "require",
            connectTimeoutSeconds: 10,
            superuser: false,
        });
    });
});
