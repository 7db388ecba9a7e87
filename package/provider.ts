/**
 * The package's provider: constructs the components from plain-data args, and
 * serves the library's own resources (DatabaseAccess and the others, see
 * components/servedResource.ts) with the same provider objects a TypeScript
 * program runs as dynamic resources.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Inputs } from "@pulumi/pulumi";
import type * as provider from "@pulumi/pulumi/provider";
import { ComponentProvider } from "@pulumi/pulumi/provider/experimental";
import { servedProvider } from "../components/servedResource";
import { plainValue } from "./plainInputs";

const { specialSigKey, specialSecretSig } = pulumi.runtime;

/** Property bags as the served providers take and give them. */
type Props = Record<string, unknown>;

function isSecretValue(value: unknown): value is { value: unknown } {
    return value !== null && typeof value === "object" && (value as Props)[specialSigKey] === specialSecretSig;
}

/** `value` with every secret marker taken off, deeply (the provider objects work on plain values). */
export function revealed(value: unknown): unknown {
    if (isSecretValue(value)) return revealed(value.value);
    if (Array.isArray(value)) return value.map(revealed);
    if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealed(v)]));
    return value;
}

/** A property bag with its secret markers taken off. */
function revealedProps(bag: Props | undefined): Props {
    return (revealed(bag ?? {}) ?? {}) as Props;
}

function holdsSecret(value: unknown): boolean {
    if (isSecretValue(value)) return true;
    if (Array.isArray(value)) return value.some(holdsSecret);
    if (value !== null && typeof value === "object") return Object.values(value).some(holdsSecret);
    return false;
}

/** `outs` with each property that held a secret in `inputs` marked secret again. */
export function resecret(inputs: Props, outs: Props | undefined): Props | undefined {
    if (!outs) return outs;
    return Object.fromEntries(
        Object.entries(outs).map(([k, v]) => [
            k,
            holdsSecret(inputs[k]) && !isSecretValue(v) ? { [specialSigKey]: specialSecretSig, value: v } : v,
        ]),
    );
}

/** The served provider object for a resource, by the type in its URN. */
function providerOf(urn: string): pulumi.dynamic.ResourceProvider<Props, Props> {
    const qualified = urn.split("::")[2] ?? "";
    const type = qualified.split("$").pop()!.split(":")[2] ?? "";
    const found = servedProvider(type);
    if (!found) throw new Error(`app-databases: no provider for ${urn}`);
    return found;
}

export class AppDatabasesProvider extends ComponentProvider {
    async construct(
        name: string,
        type: string,
        inputs: Inputs,
        options: pulumi.ComponentResourceOptions,
    ): Promise<provider.ConstructResult> {
        return super.construct(name, type, (await plainValue(inputs)) as Inputs, options);
    }

    async check(urn: string, olds: Props, news: Props): Promise<provider.CheckResult> {
        const p = providerOf(urn);
        if (!p.check) return { inputs: news };
        const result = await p.check(revealedProps(olds), revealedProps(news));
        return { inputs: resecret(news, result.inputs), failures: result.failures };
    }

    async diff(id: string, urn: string, olds: Props, news: Props): Promise<provider.DiffResult> {
        const p = providerOf(urn);
        return p.diff ? p.diff(id, revealedProps(olds), revealedProps(news)) : {};
    }

    async create(urn: string, inputs: Props): Promise<provider.CreateResult> {
        const result = await providerOf(urn).create(revealedProps(inputs));
        return { id: result.id, outs: resecret(inputs, result.outs) };
    }

    async read(id: string, urn: string, props: Props): Promise<provider.ReadResult> {
        const p = providerOf(urn);
        if (!p.read) return { id, props };
        const result = await p.read(id, revealedProps(props));
        return { id: result.id, props: resecret(props, result.props) };
    }

    async update(id: string, urn: string, olds: Props, news: Props): Promise<provider.UpdateResult> {
        const p = providerOf(urn);
        if (!p.update) return { outs: news };
        const result = await p.update(id, revealedProps(olds), revealedProps(news));
        return { outs: resecret(news, result.outs) };
    }

    async delete(id: string, urn: string, props: Props): Promise<void> {
        const p = providerOf(urn);
        if (p.delete) await p.delete(id, revealedProps(props));
    }
}
