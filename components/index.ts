// The package entry for other Pulumi programs: the components, their args and
// the types those args use. Helpers stay internal to their modules.
export type { AdminConnection } from "./adminConnection";
export { AdoptedDatabase } from "./adoptedDatabase";
export type { AdoptedDatabaseArgs } from "./adoptedDatabase";
export { AdoptedRole } from "./adoptedRole";
export type { AdoptedRoleArgs } from "./adoptedRole";
export { AppDatabase } from "./appDatabase";
export type { AdoptArgs, AppDatabaseArgs, ExtraRoleArgs } from "./appDatabase";
export { BudgetError, ConnectionBudget } from "./connectionBudget";
export type { BudgetEntry, BudgetReport, ConnectionBudgetArgs } from "./connectionBudget";
export { DataLossGuard } from "./dataLossGuard";
export type { AppFootprint, DataLossGuardArgs } from "./dataLossGuard";
export { DatabaseAccess } from "./databaseAccess";
export type { DatabaseAccessArgs } from "./databaseAccess";
export { DedicatedServer } from "./dedicatedServer";
export type { DedicatedServerArgs } from "./dedicatedServer";
export type { RoleNameOverrides } from "./identifiers";
export { ObjectOwnership } from "./objectOwnership";
export type { ObjectOwnershipArgs } from "./objectOwnership";
export type { AccessLevel, ExtraRoleAccessLevel, SslMode } from "./defaults";
export { RolePair } from "./rolePair";
export type { AdoptedRolePassword, RolePairArgs } from "./rolePair";
export { RoleSettings } from "./roleSettings";
export type { RoleSettingsArgs } from "./roleSettings";
export { SharedServer } from "./sharedServer";
export type { PostgresServer, ServerConnection, ServerEndpoint, SharedServerArgs } from "./sharedServer";
