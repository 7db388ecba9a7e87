"""Draws the benchmark figures against N from a results JSON: time and peak memory
of every tool, and the connections each tool held against the reserved pool.

usage: python chart.py RESULTS.json OUT.png [COPY.png ...]
"""
import json
import shutil
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

src, out, *copies = sys.argv[1:]
data = json.load(open(src))
summ = data["summaries"]
meas = data["measurements"]
sizes = sorted({s["n"] for s in summ})
tools = []
for s in summ:
    if s["tool"] not in tools:
        tools.append(s["tool"])

COLORS = {"pulumi": "#6a3d9a", "handwritten": "#b15928", "ansible": "#e31a1c", "sql": "#33a02c"}
PHASES = [("create", "first up / create"), ("preview", "no-op preview"), ("noop", "no-op up / re-run"),
          ("refresh", "no-op up --refresh"), ("change", "one limit changed"), ("destroy", "destroy / removal")]
PHASE_STYLE = {"create": "-", "preview": ":", "noop": "--", "refresh": (0, (5, 1, 1, 1)), "change": "-.",
               "destroy": (0, (1, 1))}
PHASE_MARKER = {"create": "o", "preview": "v", "noop": "s", "refresh": "D", "change": "^", "destroy": "x"}


def color(tool):
    if tool in COLORS:
        return COLORS[tool]
    return {"pulumi:skip-preview": "#cab2d6", "pulumi:before": "#999999", "pulumi:p32": "#1f78b4",
            "pulumi:transpile": "#ff7f00", "pulumi:fast": "#a6cee3"}.get(tool, "#777777")


def get(tool, n, phase):
    for s in summ:
        if s["tool"] == tool and s["n"] == n and s["phase"] == phase:
            return s
    return None


def of(tool, n, phase=None):
    return [m for m in meas if m["tool"] == tool and m["n"] == n and (phase is None or m["phase"] == phase)]


def time_series(tool, phase):
    """Median seconds per N with the distance to the min and max run (error bars)."""
    xs, ys, lo, hi = [], [], [], []
    for n in sizes:
        s = get(tool, n, phase)
        if s and s["seconds"] is not None:
            xs.append(n)
            ys.append(s["seconds"])
            lo.append(s["seconds"] - s["secondsMin"])
            hi.append(s["secondsMax"] - s["seconds"])
    return xs, ys, [lo, hi]


def runs_label(tool, phase):
    counts = [str(len(of(tool, n, phase))) for n in sizes if of(tool, n, phase)]
    return "/".join(counts)


commit = data.get("commit") or data.get("program") or "?"
fig, axes = plt.subplots(2, 2, figsize=(15, 13), dpi=100)
fig.suptitle(
    f"app-databases at {commit}, measured {str(data.get('started', '?'))[:10]} on one local PostgreSQL, "
    f"{data.get('versions', {}).get('cpus', '?')} CPUs; checks {'PASS' if data.get('pass') else 'FAIL'}\n"
    "time: median, bars from the fastest to the slowest run (runs per N in the legend)",
    fontsize=12)

ax = axes[0][0]
for i, tool in enumerate(tools):
    xs, ys, err = time_series(tool, "create")
    if xs:
        ax.errorbar(xs, ys, yerr=err, fmt="o-", color=color(tool), capsize=4, linewidth=2,
                    label=f"{tool} (runs {runs_label(tool, 'create')})")
        for x, y in zip(xs, ys):
            # right of the point for every other tool, left for the others: close values stay readable
            right = i % 2 == 0
            ax.annotate(f"{y:.1f}s", (x, y), textcoords="offset points", xytext=(8 if right else -8, 3), fontsize=8,
                        color=color(tool), ha="left" if right else "right")
previews = any(v.get("name") == "default" and v.get("preview") for v in (data.get("options") or {}).get("variants") or [])
ax.set_title("First run from nothing (Pulumi: " +
             ("plain `pulumi up --yes`, preview included)" if previews else "`pulumi up --skip-preview`)"))
ax.set_xlabel("apps (N)")
ax.set_ylabel("wall seconds (log scale)")
ax.set_yscale("log")
ax.set_xticks(sizes)
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=9)

ax = axes[0][1]
for tool in tools:
    for phase, label in PHASES[1:]:
        xs, ys, err = time_series(tool, phase)
        if xs:
            ax.errorbar(xs, ys, yerr=err, marker=PHASE_MARKER[phase], markersize=6, linestyle=PHASE_STYLE[phase],
                        color=color(tool), capsize=3, label=f"{tool}: {label}")
ax.set_title("Day-2 operations and removal")
ax.set_xlabel("apps (N)")
ax.set_ylabel("wall seconds (log scale)")
ax.set_yscale("log")
ax.set_xticks(sizes)
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.12))

ax = axes[1][0]
for tool in tools:
    xs, ys = [], []
    for n in sizes:
        ms = of(tool, n)
        if ms:
            xs.append(n)
            ys.append(max(m["sample"]["rssTotalKiB"] for m in ms) / 1024)
    if xs:
        ax.plot(xs, ys, "o-", color=color(tool), linewidth=2.5, label=f"{tool}: all processes (max over phases and runs)")
        for x, y in zip(xs, ys):
            ax.annotate(f"{y:.0f}", (x, y), textcoords="offset points", xytext=(6, -10), fontsize=8, color=color(tool))
kinds = [("engine", "pulumi engine", "#1f78b4"), ("language-host+program", "pulumi language host + node program", "#ff7f00"),
         ("providers", "pulumi providers (postgresql, random, dynamic)", "#b15928")]
for kind, label, col in kinds:
    xs, ys = [], []
    for n in sizes:
        s = get("pulumi", n, "create")
        if s and s["peakRssMiB"].get(kind) is not None:
            xs.append(n)
            ys.append(s["peakRssMiB"][kind])
    if xs:
        ax.plot(xs, ys, "o--", color=col, linewidth=1.2, label=f"{label} (first up, median)")
if 100 in sizes:
    ax.plot([100], [900], marker="*", markersize=14, color="black", linestyle="none", label="goal at N=100: 900 MiB")
ax.set_title("Peak resident memory, MiB (summed over the tool's processes)")
ax.set_xlabel("apps (N)")
ax.set_ylabel("MiB (log scale)")
ax.set_yscale("log")
ax.set_ylim(bottom=5)
ax.set_xticks(sizes)
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.12))

ax = axes[1][1]
pools = set()
for tool in tools:
    phases = PHASES if tool.startswith("pulumi") or tool == "handwritten" else [p for p in PHASES if p[0] in ("create", "destroy")]
    for phase, label in phases:
        xs, ys = [], []
        for n in sizes:
            ms = of(tool, n, phase)
            if ms:
                xs.append(n)
                ys.append(max(m["sample"]["connections"] for m in ms))
                pools.update(m["pool"] for m in ms if m.get("pool") is not None)
        if xs:
            ax.plot(xs, ys, marker=PHASE_MARKER[phase], linestyle=PHASE_STYLE[phase], color=color(tool),
                    label=f"{tool}: {label}")
for pool in sorted(pools) or [((data.get("options") or {}).get("pool") or 2) + 1]:
    ax.axhline(pool, color="black", linestyle="--", linewidth=1)
    ax.annotate(f"pool the budget reserves: {pool}", (sizes[0], pool), textcoords="offset points", xytext=(0, 5),
                fontsize=9)
ax.set_title("Max server connections held by the tool (over runs and 100 ms samples)")
ax.set_xlabel("apps (N)")
ax.set_ylabel("admin-user sessions (lines that coincide overlap)")
ax.set_xticks(sizes)
ax.set_ylim(bottom=0)
ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
ax.grid(True, alpha=0.3)
ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.12))

fig.tight_layout(rect=(0, 0, 1, 0.95))
fig.savefig(out)
for c in copies:
    shutil.copyfile(out, c)
print(out)
