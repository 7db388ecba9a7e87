/**
 * The component package: Fleet, AppDatabase and ConnectionBudget for Pulumi programs
 * in any language. `pulumi-resource-app-databases` beside this file runs it as
 * a provider plugin; the schema is inferred from these classes' args.
 */
import * as path from "node:path";
import { main } from "@pulumi/pulumi/provider";
import { AppDatabase } from "./appDatabase";
import { ConnectionBudget } from "./connectionBudget";
import { Fleet } from "./fleet";
import { AppDatabasesProvider } from "./provider";
import { serveFromPackage } from "../components/servedResource";

export { AppDatabase } from "./appDatabase";
export type { Adopt, AdoptedRole, AppDatabaseArgs, AppSettings, ExtraRole, MoveObjects, RoleNames, Rotation } from "./appDatabase";
export { checkFleet, Fleet } from "./fleet";
export type { FleetApp, FleetArgs } from "./fleet";
export { ConnectionBudget } from "./connectionBudget";
export type { ConnectionBudgetArgs } from "./connectionBudget";
export type { ServerConnection } from "../components/sharedServer";

/** The package's name in schemas and type tokens. */
export const PACKAGE_NAME = "app-databases";

if (require.main === module) {
    // Compiled into dist/package/: the schema is inferred from the TypeScript sources in package/.
    const sources = path.resolve(__dirname, "..", "..", "package");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const version = (require(path.join(sources, "..", "package.json")) as { version: string }).version;
    // The library's own resources are served by this plugin, not by Pulumi's nodejs dynamic provider.
    serveFromPackage(PACKAGE_NAME);
    // The version is the repository's, so the plugin and the npm package never disagree.
    const provider = new AppDatabasesProvider({
        components: [Fleet, AppDatabase, ConnectionBudget],
        name: PACKAGE_NAME,
        dirname: sources,
        version,
    });
    void main(provider, process.argv.slice(2));
}
