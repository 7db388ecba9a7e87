/**
 * app-databases-consumer: reads one application's connection facts from an
 * app-databases stack (a StackReference) and renders what its deployment takes:
 *   - envFile: a Docker Compose `env_file` (DATABASE_URL and the libpq PG* variables)
 *   - kubernetesSecret: a Kubernetes Secret manifest (YAML, stringData)
 * Both hold the password, so both are secret outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";

/** What app-databases exports for each app (its `apps` stack output). */
interface AppFacts {
    readonly server: string;
    readonly host: string;
    readonly port: number;
    readonly database: string;
    readonly runtimeUser: string;
    readonly migrateUser: string;
    readonly runtimeUrl: string;
    readonly migrateUrl: string;
    readonly extraRoleUrls: Record<string, string>;
}

const config = new pulumi.Config();
/** The app-databases stack; with a file backend `organization/app-databases/<stack>`. */
const source = config.require("source");
const app = config.require("app");
/** Which role's URL: `runtime` (what the app serves with), `migrate`, or an extra role's name. */
const role = config.get("role") ?? "runtime";
const envFilePath = config.get("envFilePath");
const namespace = config.get("namespace");

/** Kubernetes object names are DNS-1123 subdomains: `claude_bridge` becomes `claude-bridge-database`. */
export const kubernetesSecretName = `${app}-database`
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "");

const databases = new pulumi.StackReference("app-databases", { name: source });

/** The chosen role's libpq URL; fails the update with the choices when the app or role is unknown. */
function pickUrl(apps: Record<string, AppFacts> | undefined): string {
    const facts = apps?.[app];
    if (!facts) {
        throw new pulumi.RunError(
            `app "${app}" is not in ${source}'s apps output (it has: ${
                Object.keys(apps ?? {})
                    .sort()
                    .join(", ") || "none"
            })`,
        );
    }
    const url = role === "runtime" ? facts.runtimeUrl : role === "migrate" ? facts.migrateUrl : facts.extraRoleUrls?.[role];
    if (!url) {
        const roles = ["runtime", "migrate", ...Object.keys(facts.extraRoleUrls ?? {})];
        throw new pulumi.RunError(`app "${app}" has no role "${role}" (it has: ${roles.join(", ")})`);
    }
    return url;
}

/** The variables a libpq client (and most ORMs) read, all from the one URL so they always agree. */
function connectionEnv(url: string): Record<string, string> {
    const u = new URL(url);
    const env: Record<string, string> = {
        DATABASE_URL: url,
        PGHOST: u.hostname.replace(/^\[(.*)\]$/, "$1"),
        PGPORT: u.port || "5432",
        PGDATABASE: decodeURIComponent(u.pathname.replace(/^\//, "")),
        PGUSER: decodeURIComponent(u.username),
        PGPASSWORD: decodeURIComponent(u.password),
    };
    const sslmode = u.searchParams.get("sslmode");
    if (sslmode) env.PGSSLMODE = sslmode;
    const timeout = u.searchParams.get("connect_timeout");
    if (timeout) env.PGCONNECT_TIMEOUT = timeout;
    return env;
}

/**
 * One `KEY=value` line that Docker Compose's env_file and `docker run --env-file`
 * read the same: plain when the value has nothing either would interpret,
 * else single-quoted (Compose takes that literally: no `$` interpolation).
 */
function envLine(key: string, value: string): string {
    if (/^[A-Za-z0-9_.:/@%?&=+,~-]*$/.test(value)) return `${key}=${value}`;
    if (value.includes("'") || /[\r\n]/.test(value)) throw new pulumi.RunError(`${key} cannot be written to an env file safely`);
    return `${key}='${value}'`;
}

function renderEnvFile(env: Record<string, string>): string {
    return (
        `# ${app}: database connection from ${source} (app-databases). Contains a password: keep it out of git.\n` +
        Object.entries(env)
            .map(([k, v]) => envLine(k, v))
            .join("\n") +
        "\n"
    );
}

/** JSON strings are valid YAML double-quoted scalars: exact, whatever the characters. */
function renderKubernetesSecret(env: Record<string, string>): string {
    const q = (s: string) => JSON.stringify(s);
    const lines = [
        "apiVersion: v1",
        "kind: Secret",
        "metadata:",
        `  name: ${q(kubernetesSecretName)}`,
        ...(namespace ? [`  namespace: ${q(namespace)}`] : []),
        "  labels:",
        `    app.kubernetes.io/name: ${q(kubernetesSecretName.replace(/-database$/, ""))}`,
        `    app.kubernetes.io/managed-by: ${q("pulumi")}`,
        "type: Opaque",
        "stringData:",
        ...Object.entries(env).map(([k, v]) => `  ${k}: ${q(v)}`),
    ];
    return lines.join("\n") + "\n";
}

const env = databases.requireOutput("apps").apply((apps) => connectionEnv(pickUrl(apps as Record<string, AppFacts>)));

// pulumi.secret: the password is in both, and they must stay encrypted in this
// stack's state whatever the referenced output's own secret flag was.
export const envFile = pulumi.secret(env.apply(renderEnvFile));
export const kubernetesSecret = pulumi.secret(env.apply(renderKubernetesSecret));

/** Where the env file was written (on `pulumi up`; not on preview), or null without `envFilePath`. */
export const envFileWritten = envFilePath
    ? pulumi.unsecret(
          envFile.apply((content) => {
              // Relative to this program's directory, the working directory of `pulumi up`.
              const target = path.resolve(envFilePath);
              if (pulumi.runtime.isDryRun()) return target;
              fs.mkdirSync(path.dirname(target), { recursive: true });
              fs.writeFileSync(target, content, { mode: 0o600 });
              fs.chmodSync(target, 0o600); // an existing file keeps its mode on write
              return target;
          }),
      )
    : null;
