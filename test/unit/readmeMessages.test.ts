/**
 * The messages README quotes are the ones the program prints. Each entry is a
 * message as README shows it, with `{}` where the program puts a value (or
 * joins two literals): README must hold it, and every piece between the `{}`
 * must be text in the program's source (comments aside). README's quoted
 * errors (the lines starting `error:` in its plain blocks) must each be listed
 * here, so a new quote cannot go unchecked.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const README = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");

/** Every TypeScript source of the program and its scripts, comments taken out. */
function programSource(): string {
    const files = ["components", "program", "scripts"].flatMap((dir) =>
        fs
            .readdirSync(path.join(ROOT, dir))
            .filter((f) => f.endsWith(".ts"))
            .map((f) => path.join(ROOT, dir, f)),
    );
    return [...files, path.join(ROOT, "index.ts")]
        .map((f) => fs.readFileSync(f, "utf8"))
        .join("\n")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/^\s*\/\/.*$/gm, "");
}

const QUOTED: readonly string[] = [
    "{}Invalid stack config ({} problem{}); nothing was applied:",
    "{}expected {}a connection limit as an integer from 1 to 10000{}, got {}",
    "{}expected a plain PostgreSQL identifier (lowercase letters, digits and _, not starting with a digit), got {}",
    "{}unknown key {}; {}did you mean {}?{} (README: Config reference)",
    "database {}: {} {}object waits{} for a lock ({}); {}waited {} of {} s, next try in {} s, {} done so far. In the way: {}",
    "{}database {}: moved {} of {} objects to {}; {} not done, still locked by other sessions after waiting {} (adopt.moveObjects.maxWaitSeconds).",
    "Every object stays usable, moved or not, and this step holds no lock any more. {}End those sessions or let them finish, then run `pulumi up` again: it moves the rest.",
    "apps.{} moves from {} ({}) to {} ({}): {}the up copies database {} into a new database on {}, verifies it and switches the {}app's outputs to it; the old one stays on {}, CONNECT revoked from the app's roles, until you retire it {}(README: \"Moving an app between placements\"). Set apps.{}.allowMoveFrom: {} to proceed.",
    "{}Connection budget for server {}: {} of max_connections {}{} (OVER BUDGET by {})",
    "The config would create what exists already; nothing was applied:",
    "role {} {}already {}exists{} on server {}, made outside this stack.",
    "(~ changed since the last up, + new since the last up, ^ one of the largest shares)",
    "What to do: free {} connection{} by lowering {}, {}or raise max_connections of {} to at least {}{}; nothing was applied.",
    "Access on server {}: {} login roles x {} databases (yes = can connect)",
    "PUBLIC still has CONNECT on: {} (every login role may connect there)",
    "{}: {} {}.{} is owned by {}, not {} (ALTER ... OWNER TO {})",
    "Preflight failed; nothing was applied:",
    "Dedicated servers as they are on the Docker engine; nothing was applied:",
];

/** Errors README quotes that the Pulumi CLI prints, not this program. */
const CLI_ERRORS: readonly string[] = ["error: the stack is currently locked by {} lock(s)."];

/** README with every line break and its indent read as one space, as a wrapped message is read. */
const flatReadme = README.replace(/\s*\n\s*/g, " ");
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const patternOf = (quote: string) => new RegExp(quote.split("{}").map(escape).join(".*?"));

/** The lines of README's fenced blocks without a language: what it shows the program printing. */
function plainBlockLines(): string[] {
    const lines: string[] = [];
    let fence: string | undefined;
    for (const line of README.split("\n")) {
        if (line.startsWith("```")) fence = fence === undefined ? line : undefined;
        else if (fence === "```") lines.push(line);
    }
    return lines;
}

describe("README's quoted messages", () => {
    const source = programSource();

    it.each(QUOTED)("quotes %j as the program words it", (quote) => {
        expect(patternOf(quote).test(flatReadme), "README no longer quotes it: update the list").toBe(true);
        const missing = quote.split("{}").filter((piece) => piece.trim().length > 0 && !source.includes(piece));
        expect(missing, "pieces the program no longer prints").toEqual([]);
    });

    it("lists every error README quotes", () => {
        const errors = plainBlockLines().filter((l) => l.startsWith("error:"));
        expect(errors.length).toBeGreaterThan(2);
        const unlisted = errors.filter(
            (line) => !CLI_ERRORS.some((q) => patternOf(q).test(line)) && !QUOTED.some((q) => patternOf(q).test(line)),
        );
        expect(unlisted).toEqual([]);
    });

    it("catches a reworded message", () => {
        const pieces = "{}Invalid stack config ({} problem{}); nothing was done:".split("{}");
        expect(pieces.filter((p) => !source.includes(p))).toEqual(["); nothing was done:"]);
    });
});
