// Entry point for other Pulumi programs: the components and their helpers, re-exported.
export * from "./adminConnection";
export * from "./appDatabase";
export * from "./config";
export * from "./connectionBudget";
export * from "./connectionUrl";
export * from "./dataLossGuard";
export * from "./databaseAccess";
export * from "./dedicatedServer";
export * from "./identifiers";
export * from "./loginRole";
export * from "./pgHba";
export * from "./preflight";
export * from "./roleSettings";
export * from "./rolePair";
export * from "./sharedServer";
export * from "./stack";
