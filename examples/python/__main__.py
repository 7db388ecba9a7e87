"""Two apps on one shared PostgreSQL server, declared from Python through the
app-databases component package (its SDK: `pulumi package add`, see README.md)."""

import pulumi
import pulumi_app_databases as app_databases

config = pulumi.Config()

# The server as plain data: each AppDatabase reaches it with these facts.
server = app_databases.ServerConnectionArgs(
    host=config.require("host"),
    port=config.require_int("port"),
    sslmode=config.require("sslmode"),
    admin_username=config.require("adminUsername"),
    admin_password=config.require_secret("adminPassword"),
    admin_superuser=config.require_bool("adminSuperuser"),
)

orders = app_databases.AppDatabase(
    "orders",
    app="orders",
    server=server,
    access="readwrite",
    runtime_connection_limit=5,
)
# The access level is checked by the package, with the same message as in TypeScript.
reports = app_databases.AppDatabase(
    "reports",
    app="reports",
    server=server,
    access=config.require("reportsAccess"),
    runtime_connection_limit=3,
)

pulumi.export("ordersRuntimeUser", orders.runtime_user)
pulumi.export("ordersRuntimeUrl", orders.runtime_url)  # secret
pulumi.export("reportsRuntimeUser", reports.runtime_user)
pulumi.export("reportsRuntimeUrl", reports.runtime_url)  # secret
