/**
 * A real S3-compatible server for the tests: SeaweedFS (Apache-2.0), built
 * from its Go module by scripts/seaweedfs.sh, run as `weed server -s3` on
 * loopback ports from freePort, with one identity (access key id and secret)
 * allowed to read and write.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./postgres";
import { PROJECT_ROOT } from "./stack";

export class TestS3 {
    readonly accessKeyId = `AKID${randomBytes(6).toString("hex").toUpperCase()}`;
    readonly secretAccessKey = randomBytes(24).toString("base64url");
    port = 0;
    /** The master as weed shell takes it: host:port.grpcPort (its grpc port is not the default port + 10000). */
    private master = "";
    private dir = "";
    private child?: ChildProcess;

    get endpoint(): string {
        return `http://127.0.0.1:${this.port}`;
    }

    private weed(): string {
        execFileSync("bash", [path.join(PROJECT_ROOT, "scripts/seaweedfs.sh")], { stdio: "inherit" });
        return execFileSync("bash", [path.join(PROJECT_ROOT, "scripts/seaweedfs.sh"), "--path"], { encoding: "utf8" }).trim();
    }

    async start(): Promise<this> {
        const weed = this.weed();
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "app-databases-s3-"));
        fs.mkdirSync(path.join(this.dir, "data"));
        const identities = {
            identities: [
                {
                    name: "backup",
                    credentials: [{ accessKey: this.accessKeyId, secretKey: this.secretAccessKey }],
                    actions: ["Admin", "Read", "Write", "List", "Tagging"],
                },
            ],
        };
        fs.writeFileSync(path.join(this.dir, "s3.json"), JSON.stringify(identities));
        const [master, volume, filer, s3] = [await freePort(), await freePort(), await freePort(), await freePort()];
        const grpc = [await freePort(), await freePort(), await freePort(), await freePort()];
        this.port = s3;
        this.master = `127.0.0.1:${master}.${grpc[0]}`;
        const log = fs.openSync(path.join(this.dir, "weed.log"), "a");
        // The weed binary answers SIGTERM by shutting down.
        this.child = spawn(
            weed,
            [
                "server",
                `-dir=${path.join(this.dir, "data")}`,
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                `-master.port=${master}`,
                `-master.port.grpc=${grpc[0]}`,
                `-volume.port=${volume}`,
                `-volume.port.grpc=${grpc[1]}`,
                `-filer.port=${filer}`,
                `-filer.port.grpc=${grpc[2]}`,
                "-s3",
                `-s3.port=${s3}`,
                `-s3.port.grpc=${grpc[3]}`,
                `-s3.config=${path.join(this.dir, "s3.json")}`,
                "-volume.max=8",
                "-master.volumeSizeLimitMB=64",
            ],
            { cwd: this.dir, stdio: ["ignore", log, log] },
        );
        const deadline = Date.now() + 90_000;
        for (;;) {
            try {
                const r = await fetch(this.endpoint, { signal: AbortSignal.timeout(2000) });
                if (r.status > 0) break;
            } catch {
                // not up yet
            }
            if (this.child.exitCode !== null || Date.now() > deadline) {
                throw new Error(`SeaweedFS did not start: ${fs.readFileSync(path.join(this.dir, "weed.log"), "utf8").slice(-2000)}`);
            }
            await new Promise((r) => setTimeout(r, 500));
        }
        return this;
    }

    /** Runs one `weed shell` command against this server's master. */
    shell(command: string): string {
        const r = spawnSync(this.weed(), ["shell", `-master=${this.master}`], {
            input: command + "\n",
            encoding: "utf8",
            timeout: 60_000,
        });
        if (r.status !== 0) throw new Error(`weed shell ${command}: ${r.stderr || r.stdout}`);
        return r.stdout;
    }

    createBucket(name: string): void {
        const out = this.shell(`s3.bucket.create -name ${name}`);
        if (!out.includes(`created bucket ${name}`)) throw new Error(`creating bucket ${name}: ${out}`);
    }

    deleteBucket(name: string): void {
        this.shell(`s3.bucket.delete -name ${name}`);
    }

    /** The keys under a prefix, listed by the runner image's own client (a plain ListObjectsV2). */
    keys(bucket: string, prefix = ""): string[] {
        const r = spawnSync(
            "docker",
            [
                "run",
                "--rm",
                "--network",
                "host",
                "-e",
                `S3_ENDPOINT=${this.endpoint}`,
                "-e",
                `S3_BUCKET=${bucket}`,
                "-e",
                `S3_ACCESS_KEY_ID=${this.accessKeyId}`,
                "-e",
                `S3_SECRET_ACCESS_KEY=${this.secretAccessKey}`,
                "--entrypoint",
                "app-databases-s3",
                BACKUP_IMAGE,
                "ls",
                prefix,
            ],
            { encoding: "utf8" },
        );
        if (r.status !== 0) throw new Error(`listing ${bucket}/${prefix}: ${r.stderr}`);
        return r.stdout
            .split("\n")
            .filter((l) => l !== "")
            .map((l) => l.split("\t")[0])
            .sort();
    }

    async stop(): Promise<void> {
        if (this.child && this.child.exitCode === null) {
            const exited = new Promise((r) => this.child!.once("exit", r));
            this.child.kill("SIGTERM");
            await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
            if (this.child.exitCode === null) this.child.kill("SIGKILL");
        }
        if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/** The runner image (scripts/backup-image.sh), whose S3 client lists buckets for the tests too. */
export const BACKUP_IMAGE = "app-databases/backup-runner:14-18";
