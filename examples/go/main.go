// Two apps on one shared PostgreSQL server, declared from Go through the
// app-databases component package (its SDK: `pulumi package add`, see README.md).
package main

import (
	"example.com/pulumi-app-databases/sdk/go/appdatabases"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg := config.New(ctx, "")
		port := float64(cfg.RequireInt("port"))
		sslmode := cfg.Require("sslmode")
		superuser := cfg.RequireBool("adminSuperuser")
		// The server as plain data: each AppDatabase reaches it with these facts.
		server := appdatabases.ServerConnectionArgs{
			Host:           cfg.Require("host"),
			Port:           &port,
			Sslmode:        &sslmode,
			AdminUsername:  pulumi.String(cfg.Require("adminUsername")),
			AdminPassword:  cfg.RequireSecret("adminPassword"),
			AdminSuperuser: &superuser,
		}

		ordersLimit, readwrite := 5.0, "readwrite"
		orders, err := appdatabases.NewAppDatabase(ctx, "orders", &appdatabases.AppDatabaseArgs{
			App:                    "orders",
			Server:                 server,
			Access:                 &readwrite,
			RuntimeConnectionLimit: &ordersLimit,
		})
		if err != nil {
			return err
		}
		// The access level is checked by the package, with the same message as in TypeScript.
		reportsLimit, reportsAccess := 3.0, cfg.Require("reportsAccess")
		reports, err := appdatabases.NewAppDatabase(ctx, "reports", &appdatabases.AppDatabaseArgs{
			App:                    "reports",
			Server:                 server,
			Access:                 &reportsAccess,
			RuntimeConnectionLimit: &reportsLimit,
		})
		if err != nil {
			return err
		}

		ctx.Export("ordersRuntimeUser", orders.RuntimeUser)
		ctx.Export("ordersRuntimeUrl", orders.RuntimeUrl) // secret
		ctx.Export("reportsRuntimeUser", reports.RuntimeUser)
		ctx.Export("reportsRuntimeUrl", reports.RuntimeUrl) // secret
		return nil
	})
}
