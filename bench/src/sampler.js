#!/usr/bin/env node
// A separate sampling process for one measured phase (plain JS: starts in ~50 ms).
//
//   node sampler.js <rootPid> <intervalMs>
//   env: PGHOST PGPORT PGUSER PGPASSWORD  (the admin connection; PGUSER is the user counted)
//
// Every <intervalMs> it
//   - counts the client sessions of PGUSER in pg_stat_activity, excluding its own
//     session, by application_name and by database;
//   - walks /proc for every descendant of <rootPid> (not itself) and sums VmRSS
//     per kind of process (engine, language host, program, providers, ansible, psql).
// On SIGTERM (or stdin closing) it prints one JSON summary on stdout and exits.
"use strict";
const fs = require("node:fs");
const { Client } = require("pg");

const rootPid = Number(process.argv[2]);
const intervalMs = Number(process.argv[3] || 100);
const user = process.env.PGUSER;

const peaks = {
    connections: 0, // peak count of PGUSER sessions (not ours)
    connectionsAt: null, // breakdown at that peak
    byApplication: {}, // peak per application_name, each at its own peak
    distinctDatabases: 0, // peak number of databases PGUSER is connected to at once
    lockWaiters: 0, // peak number of PGUSER sessions waiting on a lock (e.g. an advisory lock)
    idleInTransaction: 0, // peak number of PGUSER sessions idle in a transaction
    rssKiB: {}, // peak summed RSS per kind
    rssTotalKiB: 0, // peak of the sum over every kind
    processes: {}, // peak process count per kind
};
let ticks = 0;
let pgErrors = 0;
let lastPgError = "";
const started = Date.now();

function readProcs() {
    const procs = new Map();
    for (const name of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(name)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
            // pid (comm) state ppid ...; comm may contain spaces and parens
            const close = stat.lastIndexOf(")");
            const ppid = Number(stat.slice(close + 2).split(" ")[1]);
            procs.set(Number(name), { pid: Number(name), ppid });
        } catch {
            // gone already
        }
    }
    return procs;
}

function cmdline(pid) {
    try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    } catch {
        return [];
    }
}

const CLK_TCK = 100; // Linux USER_HZ
const cpuTicks = new Map(); // pid -> [kind, utime+stime ticks] at the last sample

function cpuOf(pid) {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
    } catch {
        return undefined;
    }
}

function rssKiB(pid) {
    try {
        const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        return m ? Number(m[1]) : 0;
    } catch {
        return 0;
    }
}

const base = (p) => (p || "").split("/").pop();

/** The kind of a process, from its own command line and its parent's kind. */
function kindOf(argv, parentKind) {
    const exe = base(argv[0]);
    if (parentKind === "ansible") return "ansible";
    if (exe === "time") return "wrapper"; // /usr/bin/time around the measured command: not counted
    if (exe === "pulumi") return "engine";
    if (exe === "pulumi-language-nodejs") return "language-host";
    if (exe === "pulumi-resource-postgresql") return "provider-postgresql";
    if (exe === "pulumi-resource-random") return "provider-random";
    if (exe.startsWith("pulumi-resource-")) return "provider-other";
    if (exe === "psql") return "psql";
    if (argv.some((a) => /ansible-playbook$/.test(a))) return "ansible";
    if (exe === "node" || exe === "sh") {
        if (argv.some((a) => a.includes("dynamic-provider"))) return "provider-dynamic";
        if (parentKind === "language-host" || argv.some((a) => a.includes("cmd/run"))) return "program";
    }
    return "other";
}

const kinds = new Map(); // pid -> kind (stable for a pid's life)

function sampleProcesses() {
    const procs = readProcs();
    const children = new Map();
    for (const p of procs.values()) {
        if (!children.has(p.ppid)) children.set(p.ppid, []);
        children.get(p.ppid).push(p.pid);
    }
    const rss = {};
    const count = {};
    const stack = (children.get(rootPid) || []).filter((pid) => pid !== process.pid).map((pid) => [pid, "root-child"]);
    while (stack.length) {
        const [pid, parentKind] = stack.pop();
        let kind = kinds.get(pid);
        if (!kind || kind === "other") {
            kind = kindOf(cmdline(pid), parentKind);
            kinds.set(pid, kind);
        }
        if (kind !== "wrapper") {
            const ticksNow = cpuOf(pid);
            if (ticksNow !== undefined) cpuTicks.set(pid, [kind, ticksNow]);
            rss[kind] = (rss[kind] || 0) + rssKiB(pid);
            count[kind] = (count[kind] || 0) + 1;
        }
        for (const c of children.get(pid) || []) stack.push([c, kind]);
    }
    let total = 0;
    for (const [kind, kib] of Object.entries(rss)) {
        total += kib;
        if (kib > (peaks.rssKiB[kind] || 0)) peaks.rssKiB[kind] = kib;
        if (count[kind] > (peaks.processes[kind] || 0)) peaks.processes[kind] = count[kind];
    }
    // The language host and the node program it runs, together.
    const lh = (rss["language-host"] || 0) + (rss["program"] || 0);
    if (lh > (peaks.rssKiB["language-host+program"] || 0)) peaks.rssKiB["language-host+program"] = lh;
    const prov = Object.entries(rss)
        .filter(([k]) => k.startsWith("provider-"))
        .reduce((s, [, v]) => s + v, 0);
    if (prov > (peaks.rssKiB["providers"] || 0)) peaks.rssKiB["providers"] = prov;
    if (total > peaks.rssTotalKiB) peaks.rssTotalKiB = total;
}

let client;
async function connect() {
    client = new Client({ application_name: "bench-sampler", connectionTimeoutMillis: 5000 });
    client.on("error", () => undefined);
    await client.connect();
}

async function samplePg() {
    try {
        if (!client) await connect();
        const res = await client.query(
            `SELECT coalesce(application_name, '') AS app, datname AS db, state, wait_event_type AS wait
               FROM pg_stat_activity
              WHERE backend_type = 'client backend' AND usename = $1 AND pid <> pg_backend_pid()`,
            [user],
        );
        const rows = res.rows;
        const byApp = {};
        const dbs = new Set();
        for (const r of rows) {
            const app = r.app || "(none)";
            byApp[app] = (byApp[app] || 0) + 1;
            dbs.add(r.db);
        }
        const waiting = rows.filter((r) => r.wait === "Lock").length;
        const idleTx = rows.filter((r) => r.state === "idle in transaction").length;
        if (waiting > peaks.lockWaiters) peaks.lockWaiters = waiting;
        if (idleTx > peaks.idleInTransaction) peaks.idleInTransaction = idleTx;
        for (const [app, n] of Object.entries(byApp)) {
            if (n > (peaks.byApplication[app] || 0)) peaks.byApplication[app] = n;
        }
        if (dbs.size > peaks.distinctDatabases) peaks.distinctDatabases = dbs.size;
        if (rows.length > peaks.connections) {
            peaks.connections = rows.length;
            peaks.connectionsAt = { byApplication: byApp, databases: dbs.size, atMs: Date.now() - started };
        }
    } catch (err) {
        pgErrors++;
        lastPgError = String(err && err.message);
        try {
            await client?.end();
        } catch {
            // ignore
        }
        client = undefined;
    }
}

let stopping = false;
async function loop() {
    while (!stopping) {
        const t0 = Date.now();
        sampleProcesses();
        await samplePg();
        ticks++;
        const wait = intervalMs - (Date.now() - t0);
        await new Promise((r) => setTimeout(r, Math.max(5, wait)));
    }
}

function finish() {
    if (stopping) return;
    stopping = true;
    // CPU seconds per kind: each process's utime+stime at its last sample (misses < one interval at its end).
    const cpuSeconds = {};
    for (const [kind, t] of cpuTicks.values()) cpuSeconds[kind] = Math.round(((cpuSeconds[kind] || 0) + t / CLK_TCK) * 100) / 100;
    const out = { ...peaks, cpuSeconds, ticks, durationMs: Date.now() - started, intervalMs, pgErrors, lastPgError };
    process.stdout.write(JSON.stringify(out) + "\n", () => {
        Promise.resolve(client?.end()).finally(() => process.exit(0));
    });
}

process.on("SIGTERM", finish);
process.on("SIGINT", finish);
process.stdin.on("end", finish);
process.stdin.resume();
// Tell the parent we are sampling (so the measured command starts after the first tick).
connect()
    .catch(() => undefined)
    .finally(() => {
        sampleProcesses();
        process.stderr.write("sampler ready\n");
        loop();
    });
