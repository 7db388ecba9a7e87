/**
 * The server contract as plain data: what an AppDatabase of the component
 * package needs to reach a shared server. A live provider object cannot cross
 * the language boundary, so the package builds the SharedServer from these
 * facts, once per server: the apps of one program that reach the same server
 * the same way share it, and with it one postgresql provider and its pool
 * (the one pool ConnectionBudget reserves per server).
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { resolveSharedServerArgs, SharedServer, SharedServerArgs, ServerConnection } from "../components/sharedServer";
import type { SslMode } from "../components/defaults";

/**
 * A ServerConnection as SharedServer takes it, checked with SharedServer's own rules
 * (so another language gets the TypeScript messages); throws on a bad value.
 */
export function sharedServerArgs(server: ServerConnection): SharedServerArgs {
    // A string from another language is checked as an sslmode by SharedServer itself.
    const args: SharedServerArgs = { ...server, sslmode: server.sslmode as SslMode | undefined };
    resolveSharedServerArgs(args);
    return args;
}

/** How a connection is known: a resource name from its non-secret facts, and a digest of its password. */
export interface ConnectionIdentity {
    /** `pg-<host>-<port>-<digest of every fact but the password>`: the SharedServer's name. */
    readonly name: string;
    readonly passwordDigest: string;
}

const digest = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 10);

/**
 * The identity of a server connection, or undefined when the admin's name or
 * password is not a plain string (not known before the deployment: no sharing).
 */
export function connectionIdentity(args: SharedServerArgs): ConnectionIdentity | undefined {
    const { adminPassword, ...facts } = resolveSharedServerArgs(args);
    if (typeof facts.adminUsername !== "string" || typeof adminPassword !== "string") return undefined;
    // Sorted keys, so the same facts always give the same name.
    const sorted = Object.fromEntries(Object.entries(facts).sort(([a], [b]) => a.localeCompare(b)));
    // The host as a name part (an IPv6 address's `::` cannot be in a URN).
    const host = facts.host.replace(/[^A-Za-z0-9.-]/g, "_");
    return { name: `pg-${host}-${facts.port}-${digest(sorted)}`, passwordDigest: digest(adminPassword) };
}

/**
 * The deployment a construct call belongs to, by the resource monitor it
 * registers with: a preview and the update after it may run in one plugin
 * process, and a SharedServer of one must never be used by the other.
 */
function deployment(): unknown {
    const monitor = pulumi.runtime.getMonitor() as { getChannel?: () => { getTarget(): string } } | undefined;
    const target = monitor?.getChannel?.().getTarget();
    // Under mocks there is no channel: the mock monitor itself.
    return target === undefined ? monitor : `${target} ${pulumi.runtime.isDryRun()}`;
}

/** A SharedServer as the package's apps use it. */
export interface ServerInUse {
    readonly server: SharedServer;
}

/** Each deployment's servers, by connection name. */
const servers = new Map<unknown, Map<string, ServerInUse & { passwordDigest: string }>>();

/**
 * The server for an app of the package: the one an earlier app of this
 * deployment made for the same connection, else a new one, parented by this
 * app. An app whose connection cannot be known in advance, or that names a
 * known connection with another password, gets a server of its own
 * (`<app>-server`, as every app had before servers were shared).
 */
export function serverFor(app: string, args: SharedServerArgs, parent: pulumi.Resource): ServerInUse {
    const own = () => ({ server: new SharedServer(`${app}-server`, args, { parent }) });
    const identity = connectionIdentity(args);
    if (identity === undefined) return own();
    const key = deployment();
    const known = servers.get(key) ?? new Map<string, ServerInUse & { passwordDigest: string }>();
    servers.set(key, known);
    const found = known.get(identity.name);
    if (found) return found.passwordDigest === identity.passwordDigest ? found : own();
    const made = { server: new SharedServer(identity.name, args, { parent }), ...identity };
    known.set(identity.name, made);
    return made;
}
