/**
 * A small client of the Docker Engine API, for the program's own reads of
 * what a dedicated server is on the engine (the docker provider only looks
 * on refresh, and then trips over what it finds). Same engine the provider
 * uses: DOCKER_HOST when it is unix:// or tcp:// (no TLS), else the default
 * socket. No dependency beyond Node's http.
 */
import * as http from "node:http";

const API = "/v1.41";
const DEFAULT_SOCKET = "/var/run/docker.sock";

/** Where the engine listens, as http.request takes it. */
export function engineAddress(env: NodeJS.ProcessEnv = process.env): { socketPath: string } | { host: string; port: number } {
    const hostVar = env.DOCKER_HOST?.trim();
    if (!hostVar) return { socketPath: DEFAULT_SOCKET };
    if (hostVar.startsWith("unix://")) return { socketPath: hostVar.slice("unix://".length) };
    const tcp = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(hostVar);
    if (tcp && env.DOCKER_TLS_VERIFY !== "1") return { host: tcp[1], port: Number(tcp[2]) };
    throw new Error(`DOCKER_HOST=${hostVar}: only unix:// sockets and tcp:// without TLS can be checked by the program`);
}

export interface EngineReply {
    readonly status: number;
    readonly body: string;
}

/** One request to the engine; rejects only when the engine cannot be reached. */
export function engineRequest(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<EngineReply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
        const req = http.request(
            {
                ...engineAddress(),
                method,
                path: `${API}${path}`,
                headers: payload ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) } : {},
                timeout: timeoutMs,
            },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
                res.on("error", reject);
            },
        );
        req.on("timeout", () => req.destroy(new Error(`Docker engine did not answer ${method} ${path} within ${timeoutMs} ms`)));
        req.on("error", (e) => reject(new Error(`cannot reach the Docker engine (${describeAddress()}): ${e.message}`)));
        if (payload) req.write(payload);
        req.end();
    });
}

function describeAddress(): string {
    try {
        const a = engineAddress();
        return "socketPath" in a ? a.socketPath : `${a.host}:${a.port}`;
    } catch (e) {
        return (e as Error).message;
    }
}

/** The parsed JSON of a 2xx reply, undefined on 404, else an error naming the request and the engine's message. */
async function engineJson<T>(method: string, path: string, body?: unknown): Promise<T | undefined> {
    const reply = await engineRequest(method, path, body);
    if (reply.status === 404) return undefined;
    if (reply.status < 200 || reply.status >= 300) {
        let message = reply.body.trim();
        try {
            message = (JSON.parse(reply.body) as { message?: string }).message ?? message;
        } catch {
            // not JSON: keep the text
        }
        throw new Error(`Docker engine: ${method} ${path} answered ${reply.status}: ${message}`);
    }
    return (reply.body ? JSON.parse(reply.body) : {}) as T;
}

/** What the program needs to know about one container. */
export interface ContainerFacts {
    readonly id: string;
    readonly name: string;
    readonly image: string;
    /** Its command (the image's entrypoint runs it). */
    readonly cmd: readonly string[];
    /** created, running, paused, restarting, removing, exited, dead */
    readonly status: string;
    readonly running: boolean;
    /** starting, healthy, unhealthy; undefined without a healthcheck */
    readonly health?: string;
    readonly restartCount: number;
    readonly labels: Readonly<Record<string, string>>;
    /** Named volumes mounted, by their path in the container. */
    readonly volumes: Readonly<Record<string, string>>;
    /** Host ports published for the container (from its configuration, so also while stopped). */
    readonly hostPorts: readonly number[];
}

interface InspectContainer {
    Id: string;
    Name: string;
    Config: { Image: string; Cmd?: string[] | null; Labels?: Record<string, string> | null };
    State: { Status: string; Running: boolean; Health?: { Status: string } };
    RestartCount?: number;
    Mounts?: { Type: string; Name?: string; Destination: string }[];
    HostConfig?: { PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null };
}

const hostPortsOf = (bindings: NonNullable<InspectContainer["HostConfig"]>["PortBindings"]): number[] =>
    Object.values(bindings ?? {})
        .flatMap((list) => list ?? [])
        .map((b) => Number(b.HostPort))
        .filter((p) => Number.isInteger(p) && p > 0);

/** The container by name, undefined when there is none. */
export async function inspectContainer(name: string): Promise<ContainerFacts | undefined> {
    const c = await engineJson<InspectContainer>("GET", `/containers/${encodeURIComponent(name)}/json`);
    if (!c) return undefined;
    return {
        id: c.Id,
        name: c.Name.replace(/^\//, ""),
        image: c.Config.Image,
        cmd: c.Config.Cmd ?? [],
        status: c.State.Status,
        running: c.State.Running,
        ...(c.State.Health ? { health: c.State.Health.Status } : {}),
        restartCount: c.RestartCount ?? 0,
        labels: c.Config.Labels ?? {},
        volumes: Object.fromEntries((c.Mounts ?? []).filter((m) => m.Type === "volume" && m.Name).map((m) => [m.Destination, m.Name!])),
        hostPorts: hostPortsOf(c.HostConfig?.PortBindings),
    };
}

/** Every container's published host ports, by container name (for a port another container holds). */
export async function publishedHostPorts(): Promise<ReadonlyMap<number, string>> {
    const list = (await engineJson<{ Names: string[]; Ports?: { PublicPort?: number }[] }[]>("GET", "/containers/json?all=true")) ?? [];
    const byPort = new Map<number, string>();
    for (const c of list) {
        for (const p of c.Ports ?? []) if (p.PublicPort) byPort.set(p.PublicPort, (c.Names[0] ?? "").replace(/^\//, ""));
    }
    return byPort;
}

/** Whether a named volume exists; its labels when it does. */
export async function inspectVolume(name: string): Promise<{ readonly labels: Readonly<Record<string, string>> } | undefined> {
    const v = await engineJson<{ Labels?: Record<string, string> | null }>("GET", `/volumes/${encodeURIComponent(name)}`);
    return v ? { labels: v.Labels ?? {} } : undefined;
}

/** Whether the image is on the engine (a pull is not tried: the preview changes nothing). */
export async function imagePresent(reference: string): Promise<boolean> {
    return (await engineJson<object>("GET", `/images/${encodeURIComponent(reference)}/json`)) !== undefined;
}

/** Starts a stopped container; resolves once the engine took the request. */
export async function startContainer(name: string): Promise<void> {
    const reply = await engineRequest("POST", `/containers/${encodeURIComponent(name)}/start`);
    if (reply.status !== 204 && reply.status !== 304) {
        throw new Error(`Docker engine: starting ${name} answered ${reply.status}: ${reply.body.trim()}`);
    }
}

/**
 * Runs a command in a running container and returns what it printed (stdout
 * and stderr together: a TTY keeps the stream unframed) and its exit code.
 */
export async function execInContainer(name: string, cmd: readonly string[]): Promise<{ exitCode: number; output: string }> {
    const exec = await engineJson<{ Id: string }>("POST", `/containers/${encodeURIComponent(name)}/exec`, {
        Cmd: cmd,
        AttachStdout: true,
        AttachStderr: true,
        Tty: true,
    });
    if (!exec) throw new Error(`Docker engine: no container ${name} to run ${cmd.join(" ")} in`);
    const started = await engineRequest("POST", `/exec/${exec.Id}/start`, { Detach: false, Tty: true });
    const done = await engineJson<{ ExitCode: number | null }>("GET", `/exec/${exec.Id}/json`);
    return { exitCode: done?.ExitCode ?? -1, output: started.body };
}

/**
 * Runs `cmd` once in a throwaway container of `image` with the named volume
 * mounted read-only at `mountPath`, and returns its output; the container is
 * removed afterwards. For reading a volume no container runs on.
 */
export async function readVolume(
    image: string,
    volume: string,
    mountPath: string,
    cmd: readonly string[],
    /** The user to run `cmd` as. @default the image's */
    user?: string,
): Promise<{ exitCode: number; output: string }> {
    const created = await engineJson<{ Id: string }>("POST", "/containers/create", {
        Image: image,
        ...(user ? { User: user } : {}),
        Entrypoint: [cmd[0]],
        Cmd: cmd.slice(1),
        Tty: true,
        Labels: { "app-databases.purpose": "read a dedicated server's volume" },
        HostConfig: { Binds: [`${volume}:${mountPath}:ro`], NetworkMode: "none" },
    });
    if (!created) throw new Error(`Docker engine: image ${image} is not on this engine`);
    try {
        await engineRequest("POST", `/containers/${created.Id}/start`);
        const waited = await engineJson<{ StatusCode: number }>("POST", `/containers/${created.Id}/wait`);
        const logs = await engineRequest("GET", `/containers/${created.Id}/logs?stdout=true&stderr=true`);
        return { exitCode: waited?.StatusCode ?? -1, output: logs.body };
    } finally {
        await engineRequest("DELETE", `/containers/${created.Id}?force=true`).catch(() => undefined);
    }
}

/** Creates a named volume with these labels (the local driver); one that exists is left as it is. */
export async function createVolume(name: string, labels: Readonly<Record<string, string>>): Promise<void> {
    await engineJson<object>("POST", "/volumes/create", { Name: name, Labels: labels });
}
