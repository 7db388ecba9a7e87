/**
 * ServedResource: how the library's own resources (DatabaseAccess,
 * RoleSettings, DataLossGuard, the adopted ones) reach the engine, with one
 * provider object each (create, read, update, delete, diff).
 *
 * In a TypeScript program each is a dynamic resource, exactly as
 * pulumi.dynamic.Resource makes it: its provider serialized into the state and
 * run by Pulumi's nodejs dynamic provider. That provider cannot run for a
 * Python or YAML program using the component package: the engine starts it in
 * the program's directory, which has no @pulumi/pulumi (pulumi/pulumi#5455).
 * So in the package's plugin process (package/, which calls serveFromPackage)
 * the same provider objects are served by that plugin itself, as custom
 * resources `<package>:index:<Type>`.
 */
import * as pulumi from "@pulumi/pulumi";
import { providerStub } from "./dynamicProvider";

type AnyProvider = pulumi.dynamic.ResourceProvider<any, any>;

const providers = new Map<string, AnyProvider>();
let servingPackage: string | undefined;

/**
 * Makes `provider` (exported as `exportName` from the module `file`, the
 * caller's `__filename`) the one the package plugin serves for resources of
 * `type`, and returns what a TypeScript program stores for it: the small stub
 * that loads it (dynamicProvider.ts).
 */
export function served<I, O>(
    type: string,
    file: string,
    exportName: string,
    provider: pulumi.dynamic.ResourceProvider<I, O>,
): pulumi.dynamic.ResourceProvider<I, O> {
    providers.set(type, provider);
    return providerStub(file, exportName, provider);
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

/** Serialized providers, one per provider object, as pulumi.dynamic.Resource caches them. */
const serialized = new WeakMap<AnyProvider, pulumi.Output<string>>();

function serializeProvider(provider: AnyProvider): pulumi.Output<string> {
    let text = serialized.get(provider);
    if (!text) {
        const fn = pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
        // Secret when the provider's closure captured one, as the dynamic resource does.
        text = pulumi.output(fn).apply((f) => (f.containsSecrets ? pulumi.secret(f.text) : pulumi.output(f.text)));
        serialized.set(provider, text);
    }
    return text;
}

export abstract class ServedResource extends pulumi.CustomResource {
    /** As pulumi.dynamic.Resource: `module` and `type` make the dynamic type `pulumi-nodejs:dynamic/<module>:<type>`. */
    constructor(
        provider: AnyProvider,
        name: string,
        props: pulumi.Inputs,
        opts: pulumi.CustomResourceOptions | undefined,
        module: string,
        type: string,
    ) {
        if (servingPackage) {
            super(`${servingPackage}:index:${type}`, name, props, opts);
        } else {
            super(`pulumi-nodejs:dynamic/${module}:${type}`, name, { ...props, __provider: serializeProvider(provider) }, opts);
        }
    }
}
