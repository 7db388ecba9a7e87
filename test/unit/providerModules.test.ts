/**
 * What the state of every existing stack loads each provider from: the
 * module path and the export name its `__provider` line names
 * (dynamicProvider.ts). Moving a provider's code elsewhere must leave both
 * as they are, or refresh and delete of those stacks break.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { DATABASE_ACCESS, declared, installMocks, MANAGED_ROLES, reset, settle } from "./mocks";

// Components are imported after the mocks are installed.
installMocks();
import * as databaseAccessModule from "../../components/databaseAccess";
import { DatabaseAccess } from "../../components/databaseAccess";
import { databaseAccessProvider } from "../../components/databaseAccess/provider";
import * as managedRolesModule from "../../components/managedRoles";
import { ManagedRoles } from "../../components/managedRoles";
import { ADMIN_CONNECTION } from "./fixtures";

beforeEach(reset);

const providerLine = (type: string): string => {
    const found = declared.find((r) => r.type === type);
    if (!found) throw new Error(`no ${type} declared`);
    return String(found.inputs.__provider);
};

describe("the provider modules in the state", () => {
    it("DatabaseAccess loads databaseAccessProvider from components/databaseAccess.ts", async () => {
        new DatabaseAccess("shop", { connection: ADMIN_CONNECTION, database: "shop", grantees: ["shop_app"] });
        await settle();
        const line = providerLine(DATABASE_ACCESS);
        expect(line).toContain('require("path").resolve("components/databaseAccess.ts")');
        expect(line).toContain('["databaseAccessProvider"]');
        expect(databaseAccessModule.databaseAccessProvider).toBe(databaseAccessProvider);
    });

    it("ManagedRoles loads managedRolesProvider from components/managedRoles.ts", async () => {
        new ManagedRoles("shop-roles", { connection: ADMIN_CONNECTION, roles: {} });
        await settle();
        const line = providerLine(MANAGED_ROLES);
        expect(line).toContain('require("path").resolve("components/managedRoles.ts")');
        expect(line).toContain('["managedRolesProvider"]');
        expect(typeof managedRolesModule.managedRolesProvider.create).toBe("function");
    });
});
