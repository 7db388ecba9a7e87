/**
 * End-to-end prerequisites. A missing toolchain or PostgreSQL is a failure
 * that says how to fix it, never a skip.
 */
import { spawnSync } from "node:child_process";
import { postgresBinDir } from "../kit/postgres";

export default function setup(): void {
    const problems: string[] = [];
    const pulumi = spawnSync("pulumi", ["version"], { encoding: "utf8" });
    if (pulumi.status !== 0) {
        problems.push(
            "the pulumi CLI is not on PATH: build it with `bash scripts/toolchain.sh`, then `source scripts/pulumi-env.sh` (scripts/test.sh does both)",
        );
    } else {
        const plugins = spawnSync("pulumi", ["plugin", "ls", "--json"], { encoding: "utf8" });
        const names = plugins.status === 0 ? (JSON.parse(plugins.stdout || "[]") as { name: string }[]).map((p) => p.name) : [];
        for (const wanted of ["postgresql", "random", "docker"]) {
            if (!names.includes(wanted))
                problems.push(
                    `the ${wanted} provider plugin is not installed in PULUMI_HOME=${process.env.PULUMI_HOME ?? "(unset)"}: run \`bash scripts/toolchain.sh\``,
                );
        }
    }
    for (const tool of [
        "pulumi-language-nodejs",
        "pulumi-resource-pulumi-nodejs",
        "pulumi-language-python",
        "pulumi-language-go",
        "pulumi-language-yaml",
    ]) {
        if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0)
            problems.push(`${tool} is not on PATH: run \`bash scripts/toolchain.sh\` and source scripts/pulumi-env.sh`);
    }
    const image = process.env.APP_DATABASES_PG_IMAGE ?? "app-databases/postgres:15";
    if (spawnSync("docker", ["info"], { stdio: "ignore" }).status !== 0) {
        problems.push("no Docker engine answers: run `bash scripts/docker-engine.sh` (scripts/test.sh does)");
    } else if (spawnSync("docker", ["image", "inspect", image], { stdio: "ignore" }).status !== 0) {
        problems.push(`the local Postgres image ${image} is missing: run \`bash scripts/postgres-image.sh\``);
    }
    try {
        postgresBinDir();
    } catch (err) {
        problems.push((err as Error).message);
    }
    if (problems.length > 0) {
        throw new Error(`End-to-end tests cannot run:\n  - ${problems.join("\n  - ")}`);
    }
}
