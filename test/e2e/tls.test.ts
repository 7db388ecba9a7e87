/**
 * TLS of the tool's own connections, against a server with a certificate from
 * a CA the test makes with openssl: verify-full works through the whole
 * program (preflight, provider, dynamic resources) on a server that refuses
 * the tool's role in plain text; a wrong CA or a wrong host name fails the
 * preview with a clear error; `require` never falls back to plain text and
 * `prefer` does only where the server has no TLS.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminConnection, withAdminClient } from "../../components/adminConnection";
import type { SslMode } from "../../components/defaults";
import { queryUrl, TestCluster } from "../kit/postgres";
import { TestStack } from "../kit/stack";

const certs = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-tls-"));
const file = (name: string) => path.join(certs, name);
const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });

/** A CA, and a server key and certificate signed by it for `san` (e.g. "IP:127.0.0.1"). */
function makeCa(name: string): void {
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        `/CN=${name}`,
        "-keyout",
        file(`${name}.key`),
        "-out",
        file(`${name}.pem`),
    );
}
function makeServerCert(ca: string, name: string, san: string): void {
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`));
    fs.writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\n`);
    openssl(
        "x509",
        "-req",
        "-in",
        file(`${name}.csr`),
        "-CA",
        file(`${ca}.pem`),
        "-CAkey",
        file(`${ca}.key`),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        file(`${name}.ext`),
        "-out",
        file(`${name}.crt`),
    );
    fs.chmodSync(file(`${name}.key`), 0o600);
}

const tlsCluster = new TestCluster({
    settings: { ssl: "on", ssl_cert_file: file("current.crt"), ssl_key_file: file("current.key") },
});
const plainCluster = new TestCluster();
const TOOL_ADMIN = "tls_admin";
const TOOL_PASSWORD = "tls-admin-password";
const stacks: TestStack[] = [];

/** Puts the elsewhere or the right certificate in place and reloads. */
async function serveCertificate(name: "server" | "elsewhere"): Promise<void> {
    fs.copyFileSync(file(`${name}.crt`), file("current.crt"));
    fs.copyFileSync(file(`${name}.key`), file("current.key"));
    await tlsCluster.admin("SELECT pg_reload_conf()");
    await new Promise((r) => setTimeout(r, 500));
}

beforeAll(async () => {
    makeCa("test-ca");
    makeCa("other-ca");
    makeServerCert("test-ca", "server", "IP:127.0.0.1,DNS:localhost");
    makeServerCert("test-ca", "elsewhere", "DNS:db.elsewhere.test");
    fs.copyFileSync(file("server.crt"), file("current.crt"));
    fs.copyFileSync(file("server.key"), file("current.key"));
    // The server reads its key as postgres (when the tests run as root) and wants it private.
    if (process.getuid?.() === 0) execFileSync("chown", ["-R", "postgres:postgres", certs]);
    await tlsCluster.start();
    await plainCluster.start();
    await tlsCluster.admin(`CREATE ROLE ${TOOL_ADMIN} LOGIN SUPERUSER PASSWORD '${TOOL_PASSWORD}'`);
    // TLS for everyone; plain text for the harness's own superuser only.
    await tlsCluster.setHba([
        "hostssl all all      127.0.0.1/32 scram-sha-256",
        `host    all ${tlsCluster.adminUser} 127.0.0.1/32 scram-sha-256`,
    ]);
});

afterAll(async () => {
    for (const s of stacks) await s.dispose();
    await tlsCluster.stop();
    await plainCluster.stop();
    fs.rmSync(certs, { recursive: true, force: true });
});

function serverConfig(extra: Record<string, unknown>) {
    return {
        host: "127.0.0.1",
        port: tlsCluster.port,
        sslmode: "verify-full",
        sslrootcert: file("test-ca.pem"),
        admin: { username: TOOL_ADMIN, superuser: true },
        urlParameters: { sslrootcert: file("test-ca.pem") },
        ...extra,
    };
}

async function newStack(server: Record<string, unknown>, apps: Record<string, unknown> = { vault: {} }): Promise<TestStack> {
    const stack = await TestStack.create({
        config: { servers: { local: server }, apps },
        secrets: [{ path: "servers.local.admin.password", value: TOOL_PASSWORD }],
    });
    stacks.push(stack);
    return stack;
}

const connection = (cluster: TestCluster, sslmode: SslMode, extra: Partial<AdminConnection> = {}): AdminConnection => ({
    host: "127.0.0.1",
    port: cluster.port,
    username: cluster === tlsCluster ? TOOL_ADMIN : cluster.adminUser,
    password: cluster === tlsCluster ? TOOL_PASSWORD : cluster.adminPassword,
    database: "postgres",
    sslmode,
    connectTimeoutSeconds: 5,
    superuser: true,
    ...extra,
});

/** Whether the dynamic resources' session to `cluster` with `sslmode` runs over TLS. */
const sessionUsesTls = (cluster: TestCluster, sslmode: SslMode, extra: Partial<AdminConnection> = {}) =>
    withAdminClient(connection(cluster, sslmode, extra), async (client) => {
        const row = await client.query<{ ssl: boolean }>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
        return row.rows[0].ssl;
    });

describe("verify-full against the test CA", () => {
    it("runs preflight, the provider and the dynamic resources over verified TLS, and hands out URLs that verify too", async () => {
        const stack = await newStack(serverConfig({}));
        await stack.stack.up({ onOutput: () => undefined });
        const { apps } = await stack.outputs();
        expect(apps.vault.runtimeUrl).toContain("sslmode=verify-full");
        expect(await queryUrl(apps.vault.runtimeUrl, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).toEqual([{ ssl: true }]);
        // The DatabaseAccess lock-down happened (its session had to be TLS: plain text is refused to tls_admin).
        const [{ acl }] = await tlsCluster.admin<{ acl: string[] }>(
            "SELECT datacl::text[] AS acl FROM pg_database WHERE datname = 'vault'",
        );
        expect(acl.some((a) => a.startsWith("vault_app="))).toBe(true);
        const preview = await stack.stack.preview({ onOutput: () => undefined });
        expect(Object.keys(preview.changeSummary).filter((k) => k !== "same")).toEqual([]);
        await stack.stack.destroy({ onOutput: () => undefined });
    });

    it("fails the preview with a clear error when the CA is not the one that signed the server's certificate", async () => {
        const stack = await newStack(serverConfig({ sslrootcert: file("other-ca.pem") }));
        let output = "";
        await expect(stack.stack.preview({ onOutput: (s) => (output += s) })).rejects.toThrow();
        expect(output).toContain(`server local: cannot connect to PostgreSQL at 127.0.0.1:${tlsCluster.port} as ${TOOL_ADMIN}`);
        expect(output).toMatch(/self[- ]signed certificate in certificate chain|unable to verify|unable to get local issuer/);
        expect(await tlsCluster.catalog()).toEqual({ roles: [TOOL_ADMIN], databases: [] });
    });

    it("fails the preview with a clear error when the certificate names another host, which verify-ca accepts", async () => {
        await serveCertificate("elsewhere");
        try {
            const stack = await newStack(serverConfig({}));
            let output = "";
            await expect(stack.stack.preview({ onOutput: (s) => (output += s) })).rejects.toThrow();
            expect(output).toMatch(/Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1 is not in the cert's list/);
            expect(await sessionUsesTls(tlsCluster, "verify-ca", { sslrootcert: file("test-ca.pem") })).toBe(true);
        } finally {
            await serveCertificate("server");
        }
    });
});

describe("sslmode of the dynamic resources means what it means to libpq", () => {
    it("require: TLS where the server has it, and a refusal, never plain text, where it has not", async () => {
        expect(await sessionUsesTls(tlsCluster, "require")).toBe(true);
        await expect(sessionUsesTls(plainCluster, "require")).rejects.toThrow(
            /cannot connect to PostgreSQL at 127\.0\.0\.1:\d+ as postgres: The server does not support SSL connections \(sslmode require\)/,
        );
    });

    it("prefer: TLS where the server has it, plain text only where it has not", async () => {
        expect(await sessionUsesTls(tlsCluster, "prefer")).toBe(true);
        expect(await sessionUsesTls(plainCluster, "prefer")).toBe(false);
    });

    it("require with a CA verifies the chain, as libpq does", async () => {
        await expect(sessionUsesTls(tlsCluster, "require", { sslrootcert: file("other-ca.pem") })).rejects.toThrow(/certificate/);
        expect(await sessionUsesTls(tlsCluster, "require", { sslrootcert: file("test-ca.pem") })).toBe(true);
    });
});
