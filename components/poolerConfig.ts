/**
 * PoolerConfig: a PgBouncer container's pgbouncer.ini and auth file, written
 * into the running container through the Docker Engine API, then applied by
 * SIGHUP: PgBouncer rereads both and keeps every client and server connection
 * (a rotated password or a new app needs no restart).
 *
 * The container (scripts/pgbouncer-image) waits for the first write before it
 * starts PgBouncer. A replaced container has a new id: the files are written
 * again. Only a digest of the files is kept in the outputs; the inputs, which
 * hold the passwords, are secret.
 */
import { createHash } from "node:crypto";
import * as http from "node:http";
import * as net from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { POOLER_CONFIG_DIR } from "./poolerPlan";
import { served, ServedResource } from "./servedResource";

/** uid/gid of `postgres` in the image's Debian rootfs: PgBouncer runs as it and reads the files. */
const POSTGRES_UID = 100;
const POSTGRES_GID = 102;

export interface PoolerConfigInputs {
    readonly containerId: string;
    /** File name in the config directory to content; written in this order (the auth file before the ini). */
    readonly files: Readonly<Record<string, string>>;
    /** Where PgBouncer listens, to wait until it accepts connections. */
    readonly listen: { readonly host: string; readonly port: number };
}

interface PoolerConfigOutputs {
    readonly containerId: string;
    readonly digest: string;
}

const digestOf = (files: Readonly<Record<string, string>>) =>
    createHash("sha256")
        .update(JSON.stringify(Object.entries(files)))
        .digest("hex")
        .slice(0, 32);

/** A ustar archive of small files, as the engine's archive endpoint takes it. */
export function tarOf(files: Readonly<Record<string, string>>, uid = POSTGRES_UID, gid = POSTGRES_GID): Buffer {
    const blocks: Buffer[] = [];
    for (const [name, content] of Object.entries(files)) {
        const body = Buffer.from(content, "utf8");
        const header = Buffer.alloc(512, 0);
        const put = (value: string, offset: number, length: number) => header.write(value, offset, length, "ascii");
        const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, "0") + "\0";
        put(name, 0, 100);
        put(octal(0o600, 8), 100, 8);
        put(octal(uid, 8), 108, 8);
        put(octal(gid, 8), 116, 8);
        put(octal(body.length, 12), 124, 12);
        put(octal(Math.floor(Date.now() / 1000), 12), 136, 12);
        put("        ", 148, 8);
        put("0", 156, 1);
        put("ustar\0", 257, 6);
        put("00", 263, 2);
        let sum = 0;
        for (const byte of header) sum += byte;
        put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
        blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512, 0));
    }
    blocks.push(Buffer.alloc(1024, 0));
    return Buffer.concat(blocks);
}

/** The engine the docker provider uses: DOCKER_HOST (unix:// or tcp:// without TLS), else the default socket. */
function engine(): { socketPath: string } | { host: string; port: number } {
    const value = process.env.DOCKER_HOST?.trim();
    if (!value) return { socketPath: "/var/run/docker.sock" };
    if (value.startsWith("unix://")) return { socketPath: value.slice("unix://".length) };
    const tcp = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(value);
    if (tcp && process.env.DOCKER_TLS_VERIFY !== "1") return { host: tcp[1], port: Number(tcp[2]) };
    throw new Error(`PoolerConfig: DOCKER_HOST=${value}: only unix:// sockets and tcp:// without TLS are supported`);
}

function call(method: string, path: string, body?: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
        const req = http.request(
            {
                ...engine(),
                method,
                path: `/v1.41${path}`,
                headers: body ? { "Content-Type": "application/x-tar", "Content-Length": body.length } : {},
                timeout: 30_000,
            },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => {
                    const status = res.statusCode ?? 0;
                    if (status >= 200 && status < 300) resolve();
                    else
                        reject(
                            new Error(
                                `PoolerConfig: Docker engine ${method} ${path} answered ${status}: ${Buffer.concat(chunks).toString().trim()}`,
                            ),
                        );
                });
            },
        );
        req.on("timeout", () => req.destroy(new Error(`PoolerConfig: Docker engine did not answer ${method} ${path}`)));
        req.on("error", reject);
        req.end(body);
    });
}

/** Resolves once something accepts TCP connections at host:port, or rejects after `timeoutMs`. */
async function waitListening(host: string, port: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const ok = await new Promise<boolean>((resolve) => {
            const socket = net.connect({ host, port }, () => (socket.end(), resolve(true)));
            socket.on("error", () => resolve(false));
            socket.setTimeout(2_000, () => (socket.destroy(), resolve(false)));
        });
        if (ok) return;
        if (Date.now() > deadline) {
            throw new Error(
                `PoolerConfig: PgBouncer does not accept connections at ${host}:${port} after ${timeoutMs / 1000} s (see \`docker logs\` of the pooler)`,
            );
        }
        await new Promise((r) => setTimeout(r, 250));
    }
}

async function apply(inputs: PoolerConfigInputs): Promise<PoolerConfigOutputs> {
    const id = encodeURIComponent(inputs.containerId);
    await call("PUT", `/containers/${id}/archive?path=${encodeURIComponent(POOLER_CONFIG_DIR)}`, tarOf(inputs.files));
    // PgBouncer rereads its files on SIGHUP (before its first start the waiting shell ignores it).
    await call("POST", `/containers/${id}/kill?signal=SIGHUP`);
    await waitListening(inputs.listen.host, inputs.listen.port);
    return { containerId: inputs.containerId, digest: digestOf(inputs.files) };
}

export const poolerConfigProvider: pulumi.dynamic.ResourceProvider<PoolerConfigInputs, PoolerConfigOutputs> = {
    async create(inputs) {
        return { id: `${inputs.containerId.slice(0, 12)}-config`, outs: await apply(inputs) };
    },
    async diff(_id, olds, news) {
        const changes = olds.containerId !== news.containerId || olds.digest !== digestOf(news.files);
        return { changes, replaces: [], deleteBeforeReplace: false };
    },
    async update(_id, _olds, news) {
        return { outs: await apply(news) };
    },
    // The files go with the container.
    async delete() {},
};

/** Served by the package plugin; in a TypeScript program the state stores the line that loads it (servedResource.ts). */
const poolerConfigProviderModule = served("PoolerConfig", __filename, "poolerConfigProvider", poolerConfigProvider);

export interface PoolerConfigArgs {
    readonly containerId: pulumi.Input<string>;
    readonly files: pulumi.Input<Record<string, pulumi.Input<string>>>;
    readonly listen: pulumi.Input<{ host: string; port: number }>;
}

export class PoolerConfig extends ServedResource {
    declare public readonly digest: pulumi.Output<string>;

    constructor(name: string, args: PoolerConfigArgs, opts: pulumi.CustomResourceOptions = {}) {
        super(
            poolerConfigProviderModule,
            name,
            { containerId: args.containerId, files: pulumi.secret(args.files), listen: args.listen, digest: undefined },
            opts,
            "app-databases",
            "PoolerConfig",
        );
    }
}
