"""Draws the benchmark figures against N from a results JSON.

usage: python chart.py RESULTS.json OUT.png [COPY.png ...]
"""
import json
import shutil
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402,F401

src, out, *copies = sys.argv[1:]
data = json.load(open(src))
summ = data["summaries"]
sizes = sorted({s["n"] for s in summ})
tools = []
for s in summ:
    if s["tool"] not in tools:
        tools.append(s["tool"])


def series(tool, phase, key=lambda s: s["seconds"]):
    xs, ys = [], []
    for n in sizes:
        for s in summ:
            if s["tool"] == tool and s["n"] == n and s["phase"] == phase and key(s) is not None:
                xs.append(n)
                ys.append(key(s))
    return xs, ys


COLORS = {"pulumi": "#6a3d9a", "ansible": "#e31a1c", "sql": "#33a02c"}
PHASES = [("create", "first up / create"), ("preview", "no-op preview"), ("noop", "no-op up / re-run"),
          ("change", "one limit changed"), ("destroy", "destroy / removal")]
PHASE_STYLE = {"create": "-", "preview": ":", "noop": "--", "change": "-.", "destroy": (0, (1, 1))}
PHASE_MARKER = {"create": "o", "preview": "v", "noop": "s", "change": "^", "destroy": "x"}


def color(tool):
    if tool in COLORS:
        return COLORS[tool]
    return {"pulumi:p32": "#1f78b4", "pulumi:transpile": "#ff7f00", "pulumi:fast": "#a6cee3"}.get(tool, "#777777")


fig, axes = plt.subplots(2, 2, figsize=(14, 11), dpi=110)
runs = max(s["runs"] for s in summ)
fig.suptitle(
    f"app-databases: {', '.join(tools)} on one local PostgreSQL "
    f"(median of up to {runs} run{'s' if runs > 1 else ''}; {data.get('versions', {}).get('cpus', '?')} CPUs)",
    fontsize=13)

ax = axes[0][0]
for i, tool in enumerate(tools):
    xs, ys = series(tool, "create")
    if xs:
        ax.plot(xs, ys, "o-", color=color(tool), label=tool, linewidth=2)
        for x, y in zip(xs, ys):
            # staggered so that close values stay readable
            ax.annotate(f"{y:.1f}s", (x, y), textcoords="offset points", xytext=(5, 6 - 11 * (i % 2)), fontsize=8, color=color(tool))
ax.set_title("First run from nothing (create)")
ax.set_xlabel("apps (N)")
ax.set_ylabel("wall seconds (log scale)")
ax.set_yscale("log")
ax.set_xticks(sizes)
ax.grid(True, which="both", alpha=0.3)
ax.legend()

ax = axes[0][1]
for tool in tools:
    if tool == "sql":
        xs, ys = series(tool, "destroy")
        if xs:
            ax.plot(xs, ys, marker=PHASE_MARKER["destroy"], linestyle=PHASE_STYLE["destroy"], color=color(tool), label=f"{tool}: drop")
        continue
    for phase, label in PHASES[1:]:
        xs, ys = series(tool, phase)
        if xs:
            ax.plot(xs, ys, marker=PHASE_MARKER[phase], markersize=7, linestyle=PHASE_STYLE[phase], color=color(tool), label=f"{tool}: {label}")
ax.set_title("Day-2 operations")
ax.set_xlabel("apps (N)")
ax.set_ylabel("wall seconds (log scale)")
ax.set_yscale("log")
ax.set_xticks(sizes)
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.13))

ax = axes[1][0]
for tool in tools:
    for phase, marker in (("create", "o"), ("destroy", "s")):
        xs, ys = series(tool, phase, key=lambda s: s["peakConnections"])
        if xs:
            ax.plot(xs, ys, marker=marker, linestyle=PHASE_STYLE[phase], color=color(tool), label=f"{tool}: {phase}")
# The budget counts the provider's pool (provisioningConnections, default 2) plus one dynamic-resource session.
budget = ((data.get("meta", {}).get("options") or {}).get("pool") or 2) + 1
ax.axhline(budget, color="black", linestyle="--", linewidth=1)
ax.annotate(f"budget: provisioningConnections + 1 = {budget}", (sizes[0], budget), textcoords="offset points", xytext=(0, 5), fontsize=9)
ax.set_title("Peak server connections held by the tool (admin user)")
ax.set_xlabel("apps (N)")
ax.set_ylabel("sessions (lines that coincide overlap)")
ax.set_xticks(sizes)
ax.set_ylim(bottom=0)
ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
ax.grid(True, alpha=0.3)
ax.legend(fontsize=8)

ax = axes[1][1]
kinds = [("engine", "pulumi engine", "#1f78b4"), ("language-host+program", "language host + node program", "#ff7f00"),
         ("provider-postgresql", "postgresql provider", "#b15928"), ("provider-random", "random provider", "#fb9a99"),
         ("provider-dynamic", "dynamic provider (node)", "#b2df8a"), ("total", "pulumi: all processes", COLORS["pulumi"])]
for kind, label, col in kinds:
    xs, ys = series("pulumi", "create", key=lambda s, k=kind: s["peakRssMiB"].get(k))
    if xs:
        ax.plot(xs, ys, "o-", color=col, label=label, linewidth=2.5 if kind == "total" else 1.2)
for tool in ("ansible",):
    xs, ys = series(tool, "create", key=lambda s: s["peakRssMiB"].get("total"))
    if xs:
        ax.plot(xs, ys, "o--", color=color(tool), label="ansible: all processes")
ax.set_title("Peak RSS during the first run, MiB")
ax.set_xlabel("apps (N)")
ax.set_ylabel("MiB")
ax.set_xticks(sizes)
ax.grid(True, alpha=0.3)
ax.legend(fontsize=8)

fig.tight_layout(rect=(0, 0, 1, 0.96))
fig.savefig(out)
for c in copies:
    shutil.copyfile(out, c)
print(out)
