/**
 * ServedResource: how the library's own resources (DatabaseAccess,
 * RoleSettings, DataLossGuard, the adopted ones) reach the engine, with one
 * provider object each (create, read, update, delete, diff).
 *
 * In a TypeScript program each is a dynamic resource of the type
 * pulumi.dynamic.Resource makes, run by Pulumi's nodejs dynamic provider; its
 * `__provider` is one line that loads the provider object from this package's
 * files (dynamicProvider.ts), not the serialized closure. That provider cannot run for a
 * Python or YAML program using the component package: the engine starts it in
 * the program's directory, which has no @pulumi/pulumi (pulumi/pulumi#5455).
 * So in the package's plugin process (package/, which calls serveFromPackage)
 * the same provider objects are served by that plugin itself, as custom
 * resources `<package>:index:<Type>`.
 */
import * as pulumi from "@pulumi/pulumi";
import { providerModule } from "./dynamicProvider";

type AnyProvider = pulumi.dynamic.ResourceProvider<any, any>;

const providers = new Map<string, AnyProvider>();
let servingPackage: string | undefined;

/** What a TypeScript program stores for a served provider: the module text that loads it (dynamicProvider.ts). */
export interface ProviderModule {
    readonly text: string;
}

/**
 * Makes `provider` (exported as `exportName` from the module `file`, the
 * caller's `__filename`) the one the package plugin serves for resources of
 * `type`, and returns what a TypeScript program stores for it.
 */
export function served<I, O>(
    type: string,
    file: string,
    exportName: string,
    provider: pulumi.dynamic.ResourceProvider<I, O>,
): ProviderModule {
    providers.set(type, provider);
    return { text: providerModule(file, exportName) };
}

/** From now on in this process, ServedResources are the package's own custom resources, served by its plugin. */
export function serveFromPackage(packageName: string): void {
    servingPackage = packageName;
}

/** The provider object served for a type, or undefined; it takes and gives property bags. */
export function servedProvider(
    type: string,
): pulumi.dynamic.ResourceProvider<Record<string, unknown>, Record<string, unknown>> | undefined {
    return providers.get(type) as pulumi.dynamic.ResourceProvider<Record<string, unknown>, Record<string, unknown>> | undefined;
}

export abstract class ServedResource extends pulumi.CustomResource {
    /** As pulumi.dynamic.Resource: `module` and `type` make the dynamic type `pulumi-nodejs:dynamic/<module>:<type>`. */
    constructor(
        provider: ProviderModule,
        name: string,
        props: pulumi.Inputs,
        opts: pulumi.CustomResourceOptions | undefined,
        module: string,
        type: string,
    ) {
        if (servingPackage) {
            super(`${servingPackage}:index:${type}`, name, props, opts);
        } else {
            super(`pulumi-nodejs:dynamic/${module}:${type}`, name, { ...props, __provider: provider.text }, opts);
        }
    }
}
