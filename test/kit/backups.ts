/** What the backup e2e tests share: the runner's user and the restore command run as a user runs it. */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { PROJECT_ROOT, TestStack } from "./stack";

/** The runner's user in its image (the image's postgres): a backup directory must be writable by it. */
export const RUNNER_UID = 100;

export const docker = (...args: string[]) => spawnSync("docker", args, { encoding: "utf8" });

/** `npm run restore` on a test stack (scripts/restore.ts), with its backend and passphrase. */
export const restoreCliOn = (stack: TestStack, ...args: string[]) =>
    spawnSync(
        "node",
        ["-r", "ts-node/register/transpile-only", path.join(PROJECT_ROOT, "scripts/restore.ts"), ...args].concat([
            "--stack",
            stack.stack.name,
            "--cwd",
            stack.dir,
        ]),
        {
            cwd: PROJECT_ROOT,
            encoding: "utf8",
            env: { ...process.env, PULUMI_BACKEND_URL: `file://${stack.backendDir}`, PULUMI_CONFIG_PASSPHRASE: stack.passphrase },
        },
    );
