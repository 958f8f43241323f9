#!/usr/bin/env python3
"""Reads JMH JSON results (and the C reference's output) and prints medians and ratios.

  report.py compare DIR          base-*.json vs cand-*.json: median Mpps per benchmark, ratio cand/base
  report.py suite DIR            the suite's results: tables for docs/PERFORMANCE.md, results.csv, plot data
Medians are over every measurement iteration of every fork and round (JMH rawData).
"""
import glob
import json
import os
import re
import statistics
import sys


def label(r):
    name = r["benchmark"].rsplit(".", 1)[-1]
    params = r.get("params", {})
    return name, tuple(sorted(params.items()))


def load(files):
    """{(benchmark, params): {"ops": [per-iteration ops/us], "alloc": [B/op]}}"""
    out = {}
    for f in files:
        try:
            data = json.load(open(f))
        except (OSError, ValueError):
            continue
        for r in data:
            key = label(r)
            e = out.setdefault(key, {"ops": [], "alloc": []})
            for fork in r["primaryMetric"]["rawData"]:
                e["ops"].extend(fork)
            sec = r.get("secondaryMetrics", {}).get("gc.alloc.rate.norm")
            if sec:
                for fork in sec["rawData"]:
                    e["alloc"].extend(fork)
    return out


def fmt_params(params):
    return " ".join(f"{k}={v}" for k, v in params)


def compare(d):
    base = load(sorted(glob.glob(os.path.join(d, "base-*.json"))))
    cand = load(sorted(glob.glob(os.path.join(d, "cand-*.json"))))
    print(f"{'benchmark':<10} {'params':<40} {'base Mpps':>10} {'cand Mpps':>10} {'ratio':>7} {'B/pkt base':>10} {'B/pkt cand':>10}")
    for key in sorted(cand):
        name, params = key
        # match a base result with the same params, ignoring params the base does not have
        bkey = None
        for k in base:  # same name; every param the base has equal, except busyPollMicros (base: 0 only)
            if k[0] == name and all(dict(params).get(pk) == pv or pk == "busyPollMicros" for pk, pv in k[1]):
                bkey = k
        c = statistics.median(cand[key]["ops"])
        b = statistics.median(base[bkey]["ops"]) if bkey else float("nan")
        ca = statistics.median(cand[key]["alloc"]) if cand[key]["alloc"] else float("nan")
        ba = statistics.median(base[bkey]["alloc"]) if bkey and base[bkey]["alloc"] else float("nan")
        print(f"{name:<10} {fmt_params(params):<40} {b:>10.3f} {c:>10.3f} {c / b if b else float('nan'):>7.2f} {ba:>10.1f} {ca:>10.1f}")


SIZES = [64, 1514, 65536]
TARGETS = {"mpps64": 10.0, "gbps64k": 20.0, "tap_ratio": 0.9}


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def gbps(mpps, size):
    return mpps * size * 8 / 1000.0


def c_samples(d, direction, size):
    """Per-second frames/s of tapref over every round."""
    xs = []
    for f in glob.glob(os.path.join(d, f"tapref-{direction}-{size}-*.log")):
        for line in open(f):
            if line.startswith("second "):
                xs.append(float(line.split(":")[1].split()[0]) / 1e6)
    return xs


RECEIVED = re.compile(r"avg_frame=(\d+) gso_frames=(\d+) frames=(\d+)")


def received(files):
    """What a TAP reader says it got, over every round: (average frame length, fraction of GSO frames),
    or None without counts. tapref rx prints it on its RESULT line, TapBenchmark in the teardown line."""
    size_sum = gso = frames = 0
    for f in files:
        try:
            text = open(f).read()
        except OSError:
            continue
        for m in RECEIVED.finditer(text):
            avg, g, n = (int(x) for x in m.groups())
            size_sum += avg * n
            gso += g
            frames += n
    return (size_sum / frames, gso / frames) if frames else None


def vhost_samples(d):
    """{(direction, size, backend): [Mpps per second]} from vhost.tsv (benchmarks/scripts/vhost-user.sh)."""
    out = {}
    try:
        lines = open(os.path.join(d, "vhost.tsv")).read().splitlines()
    except OSError:
        return out
    for line in lines:
        fields = line.split("\t")
        if len(fields) < 5:
            continue
        _, direction, size, backend, samples = fields[:5]
        out.setdefault((direction, int(size), backend), []).extend(float(x) / 1e6 for x in samples.split())
    return out


def suite(d):
    inj = load([os.path.join(d, "injvm.json")])
    rows = []
    plot = {}
    if inj:
        print("## In-JVM: driver model <-> device <-> sink backend\n")
        print("Median over all measurement iterations; one op = one packet; B/pkt = gc.alloc.rate.norm (all threads).\n")
        print("| benchmark | pairs | busy poll (us) | frame (B) | Mpps | Gbit/s | B/pkt |")
        print("|---|---|---|---|---|---|---|")
    for (name, params), e in sorted(inj.items(), key=lambda kv: (kv[0][0], dict(kv[0][1]).get("busyPollMicros", "0"),
                                                                 int(dict(kv[0][1])["frameSize"]))):
        p = dict(params)
        size = int(p["frameSize"])
        poll = p.get("busyPollMicros", "0")
        pairs = 2 if name.endswith("2") else 1
        m = med(e["ops"])
        a = med(e["alloc"])
        print(f"| {name} | {pairs} | {poll} | {size} | {m:.2f} | {gbps(m, size):.1f} | {a:.2f} |")
        plot.setdefault(f"in-JVM {name[:2].upper()} {pairs}q poll={poll}", {})[size] = m
    taps = {}
    for direction in ("tx", "rx"):
        for size in SIZES:
            c = c_samples(d, direction, size)
            j = load(glob.glob(os.path.join(d, f"tap-{direction}-{size}-*.json")))
            jm = med([x for e in j.values() for x in e["ops"]])
            if c or j:
                taps[(direction, size)] = (med(c), jm,
                                           received(glob.glob(os.path.join(d, f"tapref-{direction}-{size}-*.log"))),
                                           received(glob.glob(os.path.join(d, f"tap-{direction}-{size}-*.log"))))
    if taps:
        print("\n## TAP: device + TapBackend vs the C reference (same interfaces, same run)\n")
        print("Gbit/s = Mpps x the average frame length each reader received (RX) or the frame size (TX).\n")
        print("| direction | frame (B) | C ref Mpps | C ref Gbit/s | device Mpps | device Gbit/s | ratio device/C |")
        print("|---|---|---|---|---|---|---|")
        for (direction, size), (c, j, c_got, j_got) in sorted(taps.items()):
            got = j_got or c_got
            note = ""
            if got and got[1] > 0.5:
                note = f" (arrive whole: {got[0]:.0f} B GSO super-frames)"
            elif got and abs(got[0] - size) > 0.01 * size:
                note = f" (arrive as {got[0]:.0f} B frames)"
            c_len = c_got[0] if c_got else size
            j_len = j_got[0] if j_got else size
            print(f"| {direction.upper()} | {size}{note} | {c:.3f} | {gbps(c, c_len):.1f} | {j:.3f} | {gbps(j, j_len):.1f} "
                  f"| {j / c if c else float('nan'):.2f} |")
            plot.setdefault(f"TAP {direction.upper()} C reference", {})[size] = c
            plot.setdefault(f"TAP {direction.upper()} device", {})[size] = j
    vhost = vhost_samples(d)
    if vhost:
        print("\n## vhost-user: DPDK virtio-user (testpmd) against DPDK's net_vhost and against vnet-vhost-user\n")
        print("Median of per-second samples over every round, counted by the virtio-user testpmd; tx = virtio-user "
              "sends (txonly; the back-end drains), rx = virtio-user receives (rxonly; the back-end generates).\n")
        print("| direction | frame (B) | DPDK net_vhost Mpps | vnet Mpps | vnet/DPDK | vnet busy-poll 50 us Mpps | ratio |")
        print("|---|---|---|---|---|---|---|")
        for direction in ("tx", "rx"):
            for size in SIZES:
                row = {b: med(vhost.get((direction, size, b), [])) for b in ("dpdk", "vnet", "vnet-poll")}
                if all(v != v for v in row.values()):
                    continue
                base = row["dpdk"]
                ratio = lambda v: v / base if base == base and base else float("nan")
                print(f"| {direction.upper()} | {size} | {base:.3f} | {row['vnet']:.3f} | {ratio(row['vnet']):.2f} "
                      f"| {row['vnet-poll']:.3f} | {ratio(row['vnet-poll']):.2f} |")
                names = {"dpdk": "DPDK net_vhost", "vnet": "vnet", "vnet-poll": "vnet busy-poll"}
                for b, v in row.items():
                    plot.setdefault(f"vhost-user {direction.upper()} {names[b]}", {})[size] = v
    with open(os.path.join(d, "plot.json"), "w") as f:
        json.dump(plot, f, indent=1)
    make_plot(plot, os.path.join(d, "mpps-by-frame-size.png"))


def make_plot(plot, path):
    try:
        import matplotlib
    except ImportError:
        import subprocess
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "matplotlib"],
                       check=False)
        try:
            import matplotlib
        except ImportError:
            print("\n(no matplotlib: plot skipped)")
            return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [("in-JVM: device + sink backend", [k for k in plot if k.startswith("in-JVM")]),
              ("TAP: device + TapBackend vs C writev/readv", [k for k in plot if k.startswith("TAP")]),
              ("vhost-user: DPDK virtio-user vs DPDK net_vhost / vnet", [k for k in plot if k.startswith("vhost-user")])]
    panels = [p for p in panels if p[1]]
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 5.5), squeeze=False)
    xs = list(range(len(SIZES)))
    for ax, (title, names) in zip(axes[0], panels):
        for name in sorted(names):
            series = plot[name]
            ys = [series.get(s, float("nan")) for s in SIZES]
            style = ":" if "busy-poll" in name else "--" if ("C reference" in name or "poll=50" in name or "DPDK" in name) else "-"
            marker = "s" if ("C reference" in name or "DPDK" in name) else "o"
            kw = {}
            if name.startswith("TAP") or name.startswith("vhost-user"):
                kw["color"] = "tab:blue" if " TX " in name else "tab:orange"
            ax.plot(xs, ys, style, marker=marker, label=name.replace("in-JVM ", ""), **kw)
        ax.set_xticks(xs)
        ax.set_xticklabels(["64 B", "1514 B", "64 KiB (GSO)"])
        if title.startswith("vhost-user"):
            ax.set_xlim(-0.3, 1.3)
        ax.set_yscale("log")
        ax.set_ylabel("Mpps (median, log scale)")
        ax.set_xlabel("frame size (without the 12-byte vnet header)")
        ax.set_title(title, fontsize=10)
        if title.startswith("in-JVM"):
            ax.axhline(10, color="grey", linewidth=0.8, linestyle=":")
            ax.text(0.02, 10.6, "10 Mpps target (64 B, 1 queue)", color="grey", fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    fig.suptitle("vnet datapath: packets per second by frame size (medians)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"\nplot: {path}")


if __name__ == "__main__":
    if sys.argv[1] == "compare":
        compare(sys.argv[2])
    elif sys.argv[1] == "suite":
        suite(sys.argv[2])
    else:
        print("unknown mode", sys.argv[1])
        sys.exit(2)
