// One AppDatabase, alone, in a program of your own: the components are a
// package (`npm install` this repository, then import "app-databases").
import * as pulumi from "@pulumi/pulumi";
import { AppDatabase, SharedServer } from "app-databases";
import type { SslMode } from "app-databases";

const config = new pulumi.Config();

const server = new SharedServer("postgres", {
    host: config.require("host"),
    port: config.requireNumber("port"),
    // SharedServer checks the value: a mistyped sslmode fails before anything is declared.
    sslmode: (config.get("sslmode") ?? "require") as SslMode,
    adminUsername: config.require("adminUsername"),
    adminPassword: config.requireSecret("adminPassword"),
    adminSuperuser: config.getBoolean("adminSuperuser") ?? false,
});

const orders = new AppDatabase("orders", {
    app: "orders",
    server,
    access: "readwrite",
    runtimeConnectionLimit: 5,
});

export const runtimeUser = orders.runtimeUser;
export const runtimeUrl = orders.runtimeUrl; // secret
