/** Values the unit tests share. */
import { SharedServer } from "../../components";
import type { AdminConnection } from "../../components";

/** An admin connection for the dynamic resources' pure logic (nothing connects). */
export const ADMIN_CONNECTION: AdminConnection = {
    host: "db.lab",
    port: 5432,
    username: "admin",
    password: "pw",
    database: "postgres",
    sslmode: "disable",
    connectTimeoutSeconds: 10,
    superuser: true,
};

/** A shared server as the component tests use it; construct it only after the mocks are installed. */
export function labServer(): SharedServer {
    return new SharedServer("lab", {
        host: "10.0.0.5",
        port: 5433,
        sslmode: "require",
        adminUsername: "pulumi_admin",
        adminPassword: "admin-secret",
        provisioningConnections: 2,
    });
}
