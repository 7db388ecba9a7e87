/**
 * Construct inputs as the plain data the package's args declare.
 *
 * Another language's SDK sends the args over gRPC, and the provider side hands
 * them to the constructor wrapped in Outputs wherever a value is secret or
 * carries dependencies: a YAML object holding the admin password arrives as one
 * secret Output, a Python dict with it as a plain object holding an Output. The
 * args are checked before anything is registered, which needs their values, so
 * they are unwrapped here. Nothing is lost: SharedServer makes the admin
 * password secret again, and every URL built from a password is secret.
 */
import * as pulumi from "@pulumi/pulumi";

/** What an Output holds; undefined while it is unknown (a preview of a value another resource computes). */
async function outputValue(output: pulumi.Output<unknown>): Promise<unknown> {
    // The SDK's own accessors: Output has no public way to await its value.
    const internal = output as unknown as { promise(): Promise<unknown>; isKnown: Promise<boolean> };
    return (await internal.isKnown) ? internal.promise() : undefined;
}

/** `value` with every Output inside it replaced by what it holds, deeply. */
export async function plainValue(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) return plainValue(await outputValue(value));
    if (Array.isArray(value)) return Promise.all(value.map(plainValue));
    if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
        const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await plainValue(v)] as const));
        return Object.fromEntries(entries);
    }
    return value;
}
