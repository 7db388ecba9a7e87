/**
 * The peer a Pulumi user would write instead of this program: bench/handwritten,
 * @pulumi/postgresql and @pulumi/random as their docs teach, run by the same CLI,
 * file backend and passphrase as the program (PulumiProject), with its own config.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { AppSpec } from "./catalog";
import { PulumiProject, ServerSettings } from "./pulumiTool";
import { BENCH_DIR, PgTarget } from "./util";

/** The tool's name in measurements, checks and tables. */
export const HANDWRITTEN = "handwritten";
const PROGRAM_DIR = path.join(BENCH_DIR, "handwritten");
const PROJECT = "handwritten-postgresql";

export class HandwrittenProject extends PulumiProject {
    constructor(workDir: string, pg: PgTarget) {
        super(
            workDir,
            {
                name: HANDWRITTEN,
                description: "bench/handwritten: @pulumi/postgresql + @pulumi/random by hand, plain `pulumi up --yes`",
                args: [],
                env: {},
                preview: true,
            },
            pg,
        );
    }

    protected override copyProgram(): void {
        for (const f of fs.readdirSync(PROGRAM_DIR)) fs.copyFileSync(path.join(PROGRAM_DIR, f), path.join(this.projectDir, f));
    }

    /** The peer's config: the server, the admin password (a secret), the apps. */
    override async configure(apps: readonly AppSpec[], _server: ServerSettings): Promise<void> {
        const file = path.join(this.projectDir, "Pulumi.bench.yaml");
        const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
        const salt = /^encryptionsalt:\s*(\S+)/m.exec(current)?.[1];
        const config = {
            [`${PROJECT}:server`]: { host: this.pg.host, port: this.pg.port, username: this.pg.user },
            [`${PROJECT}:apps`]: apps.map((a) => ({
                name: a.name,
                connectionLimit: a.connectionLimit,
                migrateConnectionLimit: a.migrateConnectionLimit,
            })),
        };
        fs.writeFileSync(file, JSON.stringify({ ...(salt ? { encryptionsalt: salt } : {}), config }, null, 2));
        await this.cli(["config", "set", "--secret", "adminPassword", "--", this.pg.password]);
    }
}
