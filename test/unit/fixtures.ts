/** Values the unit tests share. */
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
