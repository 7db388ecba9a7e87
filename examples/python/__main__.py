"""Two apps on one shared PostgreSQL server, declared from Python through the
app-databases component package (its SDK: `pulumi package add`, or the release's
wheel; see README.md)."""

import pulumi
import pulumi_app_databases as app_databases

config = pulumi.Config()

# The server as plain data, by a name the apps refer to.
server = app_databases.ServerConnectionArgs(
    host=config.require("host"),
    port=config.require_int("port"),
    sslmode=config.require("sslmode"),
    admin_username=config.require("adminUsername"),
    admin_password=config.require_secret("adminPassword"),
    admin_superuser=config.require_bool("adminSuperuser"),
)

# One Fleet holds every app: the whole set is checked (with the same messages as
# in TypeScript) before anything is applied, so a bad `reportsAccess` stops orders
# too, and the apps on one server share one connection pool.
fleet = app_databases.Fleet(
    "databases",
    servers={"lab": server},
    apps={
        "orders": app_databases.FleetAppArgs(access="readwrite", runtime_connection_limit=5),
        "reports": app_databases.FleetAppArgs(access=config.require("reportsAccess"), runtime_connection_limit=3),
    },
)

pulumi.export("ordersRuntimeUser", fleet.runtime_users["orders"])
pulumi.export("ordersRuntimeUrl", fleet.runtime_urls["orders"])  # secret
pulumi.export("reportsRuntimeUser", fleet.runtime_users["reports"])
pulumi.export("reportsRuntimeUrl", fleet.runtime_urls["reports"])  # secret
