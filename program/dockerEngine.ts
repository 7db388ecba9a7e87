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

/**
 * The engine is one the program cannot read itself (DOCKER_HOST over ssh://,
 * or tcp:// with TLS): the docker provider can, so its checks are skipped
 * with a warning instead of failing the preview.
 */
export class EngineUnreadable extends Error {}

/** Where the engine listens, as http.request takes it. */
export function engineAddress(env: NodeJS.ProcessEnv = process.env): { socketPath: string } | { host: string; port: number } {
    const hostVar = env.DOCKER_HOST?.trim();
    if (!hostVar) return { socketPath: DEFAULT_SOCKET };
    if (hostVar.startsWith("unix://")) return { socketPath: hostVar.slice("unix://".length) };
    const tcp = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(hostVar);
    if (tcp && !env.DOCKER_TLS_VERIFY) return { host: tcp[1], port: Number(tcp[2]) };
    const why = tcp ? " with TLS (DOCKER_TLS_VERIFY is set)" : "";
    throw new EngineUnreadable(
        `DOCKER_HOST=${hostVar}${why}: the program reads only unix:// sockets and tcp:// without TLS, so it cannot look at this engine itself`,
    );
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
    /** Its environment, `NAME=value` each (secrets included: never logged). */
    readonly env: readonly string[];
    /** Its address on each network it is attached to, by network name. */
    readonly addresses: Readonly<Record<string, string>>;
}

interface InspectContainer {
    Id: string;
    Name: string;
    Config: { Image: string; Cmd?: string[] | null; Labels?: Record<string, string> | null; Env?: string[] | null };
    State: { Status: string; Running: boolean; Health?: { Status: string } };
    RestartCount?: number;
    Mounts?: { Type: string; Name?: string; Destination: string }[];
    HostConfig?: { PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null };
    NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> | null };
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
        env: c.Config.Env ?? [],
        addresses: Object.fromEntries(
            Object.entries(c.NetworkSettings?.Networks ?? {})
                .filter(([, n]) => n.IPAddress)
                .map(([name, n]) => [name, n.IPAddress!]),
        ),
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
export function readVolume(
    image: string,
    volume: string,
    mountPath: string,
    cmd: readonly string[],
    /** The user to run `cmd` as. @default the image's */
    user?: string,
): Promise<{ exitCode: number; output: string }> {
    return runOnce(image, cmd, { user, binds: [`${volume}:${mountPath}:ro`] });
}

/** Runs `cmd` once in a throwaway container of `image` (no network), returns its output and exit code, and removes it. */
export async function runOnce(
    image: string,
    cmd: readonly string[],
    opts: { readonly user?: string; readonly binds?: readonly string[] } = {},
): Promise<{ exitCode: number; output: string }> {
    const created = await engineJson<{ Id: string }>("POST", "/containers/create", {
        Image: image,
        ...(opts.user ? { User: opts.user } : {}),
        Entrypoint: [cmd[0]],
        Cmd: cmd.slice(1),
        Tty: true,
        Labels: { "app-databases.purpose": "read a dedicated server's volume or image" },
        HostConfig: { Binds: opts.binds ?? [], NetworkMode: "none" },
    });
    if (!created) throw new Error(`Docker engine: image ${image} is not on this engine`);
    try {
        await engineRequest("POST", `/containers/${created.Id}/start`);
        const waited = await engineJson<{ StatusCode: number }>("POST", `/containers/${created.Id}/wait`);
        const logs = await engineRequest("GET", `/containers/${created.Id}/logs?stdout=true&stderr=true`);
        return { exitCode: waited?.StatusCode ?? -1, output: logs.body };
    } finally {
        await engineRequest("DELETE", `/containers/${created.Id}?force=true&v=true`).catch(() => undefined);
    }
}

/** How long a trial start may take: initdb on an empty directory, then the server's start. */
const TRIAL_WITHIN_MS = 90_000;

/**
 * Starts the image's server with `command` and the memory limit on an empty
 * data directory (a throwaway container and its anonymous volume, no
 * network), and resolves to undefined once it accepts connections, or to
 * what it said when it stopped (its FATAL line) or did not get ready in time.
 */
export async function trialStart(image: string, command: readonly string[], memoryMb: number): Promise<string | undefined> {
    const bytes = memoryMb * 1024 * 1024;
    const created = await engineJson<{ Id: string }>("POST", "/containers/create", {
        Image: image,
        Env: ["POSTGRES_PASSWORD=trial-start-only", "POSTGRES_USER=postgres", "POSTGRES_DB=postgres"],
        Cmd: command,
        Tty: true,
        Labels: { "app-databases.purpose": "try a dedicated server's new settings on an empty data directory" },
        HostConfig: { NetworkMode: "none", Memory: bytes, MemorySwap: bytes },
    });
    if (!created) throw new Error(`Docker engine: image ${image} is not on this engine`);
    const id = created.Id;
    try {
        await startContainer(id);
        const started = Date.now();
        for (;;) {
            const state = await engineJson<{ State: { Running: boolean; Status: string } }>("GET", `/containers/${id}/json`);
            // Over TCP: the entrypoint's initdb server listens on the socket only, the final server on 127.0.0.1 too.
            const ready = state?.State.Running ? await execInContainer(id, ["pg_isready", "-q", "-h", "127.0.0.1"]) : undefined;
            if (ready?.exitCode === 0) return undefined;
            if (!state?.State.Running || Date.now() - started > TRIAL_WITHIN_MS) {
                const logs = (await engineRequest("GET", `/containers/${id}/logs?stdout=true&stderr=true`)).body;
                const lines = logs.split(/\r?\n/).map((l) => l.trim());
                const fatal = lines.find((l) => /FATAL:|could not|invalid/.test(l));
                if (state?.State.Running) return `not ready after ${TRIAL_WITHIN_MS / 1000} s`;
                return fatal
                    ? fatal.replace(/^.*(FATAL|LOG|ERROR):\s*/, "")
                    : lines.filter(Boolean).pop() || `exited (${state?.State.Status})`;
            }
            await new Promise((r) => setTimeout(r, 300));
        }
    } finally {
        await engineRequest("DELETE", `/containers/${id}?force=true&v=true`).catch(() => undefined);
    }
}

/** Creates a named volume with these labels (the local driver); one that exists is left as it is. */
export async function createVolume(name: string, labels: Readonly<Record<string, string>>): Promise<void> {
    await engineJson<object>("POST", "/volumes/create", { Name: name, Labels: labels });
}

/** Removes a named volume (it must be in no container's use); one that is gone already is fine. */
export async function removeVolume(name: string): Promise<void> {
    await engineJson<object>("DELETE", `/volumes/${encodeURIComponent(name)}`);
}

/** The names of the volumes carrying every one of these labels. */
export async function volumesLabelled(labels: Readonly<Record<string, string>>): Promise<string[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) }));
    const list = await engineJson<{ Volumes?: { Name: string }[] | null }>("GET", `/volumes?filters=${filters}`);
    return (list?.Volumes ?? []).map((v) => v.Name).sort();
}

/** Whether a network of that name exists. */
export async function networkExists(name: string): Promise<boolean> {
    return (await engineJson<object>("GET", `/networks/${encodeURIComponent(name)}`)) !== undefined;
}

/** Creates a bridge network with these labels, on `subnet` when given. */
export async function createNetwork(name: string, labels: Readonly<Record<string, string>>, subnet?: string): Promise<void> {
    await engineJson<object>("POST", "/networks/create", {
        Name: name,
        Driver: "bridge",
        Labels: labels,
        CheckDuplicate: true,
        ...(subnet ? { IPAM: { Driver: "default", Config: [{ Subnet: subnet }] } } : {}),
    });
}

/** What `createContainer` makes: the parts of the engine's create body the program uses. */
export interface ContainerSpec {
    readonly name: string;
    readonly image: string;
    readonly env: readonly string[];
    readonly cmd?: readonly string[];
    readonly labels: Readonly<Record<string, string>>;
    /** `volume:path` binds. */
    readonly binds: readonly string[];
    readonly network: string;
    readonly memoryMb?: number;
    /** A `CMD-SHELL` healthcheck, checked every second. */
    readonly healthcheck?: string;
}

/** Creates and starts a container; resolves to its id. */
export async function runContainer(spec: ContainerSpec): Promise<string> {
    const memory = spec.memoryMb === undefined ? {} : { Memory: spec.memoryMb * 1024 * 1024, MemorySwap: spec.memoryMb * 1024 * 1024 };
    const created = await engineJson<{ Id: string }>("POST", `/containers/create?name=${encodeURIComponent(spec.name)}`, {
        Image: spec.image,
        Env: spec.env,
        ...(spec.cmd ? { Cmd: spec.cmd } : {}),
        Labels: spec.labels,
        ...(spec.healthcheck
            ? { Healthcheck: { Test: ["CMD-SHELL", spec.healthcheck], Interval: 1e9, Timeout: 5e9, Retries: 120, StartPeriod: 1e9 } }
            : {}),
        HostConfig: { Binds: spec.binds, NetworkMode: spec.network, ...memory },
    });
    if (!created) throw new Error(`Docker engine: image ${spec.image} is not on this engine`);
    await startContainer(created.Id);
    return created.Id;
}

/** Stops a container (the image's stop signal, then SIGKILL after `graceSeconds`); a stopped or gone one is fine. */
export async function stopContainer(name: string, graceSeconds = 30): Promise<void> {
    const reply = await engineRequest(
        "POST",
        `/containers/${encodeURIComponent(name)}/stop?t=${graceSeconds}`,
        undefined,
        (graceSeconds + 30) * 1000,
    );
    if (![204, 304, 404].includes(reply.status))
        throw new Error(`Docker engine: stopping ${name} answered ${reply.status}: ${reply.body.trim()}`);
}

/** Removes a container, running or not; one that is gone already is fine. */
export async function removeContainer(name: string): Promise<void> {
    await engineJson<object>("DELETE", `/containers/${encodeURIComponent(name)}?force=true`);
}
