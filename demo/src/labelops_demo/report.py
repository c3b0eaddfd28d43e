"""The run's report: a self-contained ``report.html`` (plots as base64 PNGs, no external
files or scripts) and a rich summary on the terminal, both from the summary dict the workflow
returns (also written as ``summary.json``)."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .data import CLASSES

TEAM_COLORS = {"in-house": "#2b8a3e", "vendor-a": "#1c7ed6", "vendor-b": "#e8590c"}
TEAMS = ("in-house", "vendor-a", "vendor-b")


# --- plots --------------------------------------------------------------------------------------


def _figure(width: float = 6.4, height: float = 3.4) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _bar_labels(ax: Any, bars: Any, fmt: str = "{:.0f}") -> None:
    for b in bars:
        h = b.get_height()
        if h == h:  # not NaN
            ax.annotate(
                fmt.format(h),
                (b.get_x() + b.get_width() / 2, h),
                ha="center",
                va="bottom",
                fontsize=8,
            )


def plot_curation(c: Mapping[str, Any]) -> str:
    fig, ax = _figure(6.4, 3.0)
    names = ["registered", "exact copies\nexcluded", "near copies\nexcluded", "included"]
    values = [
        c["items_registered"],
        c["exact_duplicates"],
        c["near_duplicates_excluded"],
        c["included"],
    ]
    bars = ax.bar(names, values, color=["#868e96", "#fa5252", "#ff922b", "#2b8a3e"])
    _bar_labels(ax, bars)
    ax.set_ylabel("items")
    ax.set_title("Curation: import → duplicates removed → included")
    return _png(fig)


def plot_samples(samples: Sequence[Mapping[str, Any]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    n = max(1, len(samples))
    fig, axes = plt.subplots(1, n, figsize=(1.3 * n, 1.9), dpi=110, squeeze=False)
    for ax, s in zip(axes[0], samples, strict=False):
        ax.imshow(np.array(s["pixels"]).reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
        ax.set_title(f"{s['what']}\n{s['state']}", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    return _png(fig)


def plot_pools(r: Mapping[str, Any]) -> str:
    import numpy as np

    fig, ax = _figure(6.4, 3.2)
    x = np.arange(len(TEAMS))
    tasks = [r["tasks_per_pool"].get(t, 0) for t in TEAMS]
    labels = [r["labels_per_pool"].get(t, 0) for t in TEAMS]
    b1 = ax.bar(x - 0.2, tasks, 0.4, label="tasks routed here", color="#adb5bd")
    b2 = ax.bar(
        x + 0.2,
        labels,
        0.4,
        label="labels submitted (incl. gold)",
        color=[TEAM_COLORS[t] for t in TEAMS],
    )
    _bar_labels(ax, b1)
    _bar_labels(ax, b2)
    ax.set_xticks(x, TEAMS)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("Tasks and labels per pool")
    return _png(fig)


def plot_annotators(
    per: Mapping[str, Mapping[str, Any]], quality: Sequence[Mapping[str, Any]]
) -> str:
    import numpy as np

    names = sorted(
        per, key=lambda n: (TEAMS.index(per[n]["team"]) if per[n]["team"] in TEAMS else 9, n)
    )
    gold = {q["annotator"]: q for q in quality}
    fig, ax = _figure(7.2, 3.4)
    x = np.arange(len(names))
    bars = ax.bar(
        x,
        [per[n]["labels"] for n in names],
        color=[TEAM_COLORS.get(per[n]["team"], "#888") for n in names],
    )
    _bar_labels(ax, bars)
    ax.set_ylabel("labels")
    ax2 = ax.twinx()
    ax2.plot(
        x, [per[n]["accuracy_vs_truth"] for n in names], "ko-", ms=4, label="accuracy vs truth"
    )
    ax2.plot(
        x,
        [gold[n]["gold_accuracy"] if n in gold else np.nan for n in names],
        "s--",
        color="#7048e8",
        ms=4,
        label="gold accuracy (QA)",
    )
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("accuracy")
    ax2.legend(fontsize=7, frameon=False, loc="lower left")
    ax.set_xticks(x, names, rotation=35, ha="right", fontsize=8)
    ax.set_title("Labels per annotator, and how right they were")
    return _png(fig)


def plot_drift(series: Mapping[str, Sequence[int]], window: int) -> str:
    import numpy as np

    fig, ax = _figure(6.4, 3.2)
    styles = iter(["-", "--", ":", "-."] * 4)
    for name, xs in sorted(series.items()):
        if not xs:
            continue
        team = name.split("/", 1)[0]
        style = next(styles) if team == "vendor-b" else "-"
        a = np.array(xs, dtype=float)
        w = max(1, min(window, len(a)))
        rolling = np.convolve(a, np.ones(w) / w, mode="valid")
        ax.plot(
            np.arange(w, len(a) + 1),
            rolling,
            style,
            color=TEAM_COLORS.get(team, "#888"),
            alpha=1.0 if team == "vendor-b" else 0.35,
            lw=2 if team == "vendor-b" else 1,
            label=name if team == "vendor-b" else None,
        )
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("gold answers given")
    ax.set_ylabel(f"rolling gold accuracy ({window})")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("Gold accuracy over time: vendor B drifts")
    return _png(fig)


def plot_prelabels(classes: Sequence[Mapping[str, Any]]) -> str:
    import numpy as np

    _, (ax1, ax2) = _figure_pair()
    x = np.arange(len(classes))
    names = [c["class"].removeprefix("digit-") for c in classes]
    acc = [c["acceptance_rate"] if c["acceptance_rate"] is not None else np.nan for c in classes]
    bars = ax1.bar(x, acc, color="#1c7ed6")
    _bar_labels(ax1, bars, "{:.0%}")
    ax1.set_ylim(0, 1.1)
    ax1.set_xticks(x, names)
    ax1.set_xlabel("digit")
    ax1.set_title("Pre-label acceptance per class", fontsize=10)
    w = [c["median_s_with"] or np.nan for c in classes]
    wo = [c["median_s_without"] or np.nan for c in classes]
    ax2.bar(x - 0.2, wo, 0.4, label="from scratch", color="#adb5bd")
    ax2.bar(x + 0.2, w, 0.4, label="with pre-label", color="#1c7ed6")
    ax2.set_xticks(x, names)
    ax2.set_xlabel("digit")
    ax2.set_ylabel("median seconds")
    ax2.legend(fontsize=7, frameon=False)
    ax2.set_title("Time per label (ROI)", fontsize=10)
    return _png(ax1.figure)


def _figure_pair() -> tuple[Any, tuple[Any, Any]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.2), dpi=110)
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
    return fig, (axes[0], axes[1])


def plot_model(curve: Sequence[Mapping[str, Any]], versions: Sequence[Mapping[str, Any]]) -> str:
    fig, ax = _figure(6.4, 3.2)
    if curve:
        ax.plot(
            [p["labels_accepted"] for p in curve],
            [p["accuracy_all_items"] for p in curve],
            "o-",
            color="#2b8a3e",
            label="accuracy on every curated item (vs truth)",
        )
    held = [v for v in versions if v["heldout_accuracy"] is not None]
    if held:
        ax.plot(
            [v["trained_on"] for v in held],
            [v["heldout_accuracy"] for v in held],
            "s--",
            color="#7048e8",
            label="held-out accuracy (ModelTrained, vs accepted labels)",
        )
    ax.set_xlabel("accepted labels spent")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.set_title(f"Model in the loop: {len(versions)} versions")
    return _png(fig)


def plot_agreement(a: Mapping[str, Any]) -> str:
    import numpy as np

    fig, ax = _figure(6.4, 3.2)
    x = np.arange(len(CLASSES))
    svc = [a["per_class_alpha"].get(c) for c in CLASSES]
    own = [a.get("per_class_alpha_all_items", {}).get(c) for c in CLASSES]
    ax.bar(
        x - 0.2,
        [v if v is not None else np.nan for v in own],
        0.4,
        label="alpha, all multi-labeled tasks",
        color="#2b8a3e",
    )
    ax.bar(
        x + 0.2,
        [v if v is not None else np.nan for v in svc],
        0.4,
        label="alpha, QA service (items given the class)",
        color="#adb5bd",
    )
    ax.axhline(0, color="#495057", lw=0.8)
    ax.set_xticks(x, [c.removeprefix("digit-") for c in CLASSES])
    ax.set_xlabel("digit")
    ax.set_ylabel("Krippendorff's alpha (one-vs-rest)")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("Agreement per class")
    return _png(fig)


def plot_rounds(rounds: Sequence[Mapping[str, Any]]) -> str:
    import numpy as np

    fig, ax = _figure(7.2, 3.0)
    x = np.arange(len(rounds))
    bottom = np.zeros(len(rounds))
    for t in TEAMS:
        v = np.array([r["labels"].get(t, 0) for r in rounds], dtype=float)
        ax.bar(x, v, bottom=bottom, color=TEAM_COLORS[t], label=t)
        bottom += v
    ax2 = ax.twinx()
    ax2.plot(x, [r["outstanding"] for r in rounds], "k.-", label="open tasks after")
    ax2.set_ylabel("open tasks")
    ax.set_xticks(x, [f"{r['phase']}.{r['round']}" for r in rounds], fontsize=8)
    ax.set_xlabel("wave.round")
    ax.set_ylabel("labels")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.08, 1.0))
    ax.set_title("Labeling rounds")
    return _png(fig)


def plot_datasets(d: Mapping[str, Any], m: Mapping[str, Any]) -> str:
    _, (ax1, ax2) = _figure_pair()
    diff = d["diff"]
    names = ["added", "removed", "changed", "unchanged"]
    bars = ax1.bar(
        names, [diff[k] for k in names], color=["#2b8a3e", "#fa5252", "#fab005", "#adb5bd"]
    )
    _bar_labels(ax1, bars)
    ax1.set_title(f"Diff v{diff['from']} → v{diff['to']} (labels)", fontsize=10)
    counts = m["class_counts"]
    bars = ax2.bar(
        [c.removeprefix("digit-") for c in counts], list(counts.values()), color="#1c7ed6"
    )
    _bar_labels(ax2, bars)
    ax2.set_xlabel("digit")
    ax2.set_title(f"MLOps fetch of v{m['version']}: rows per class", fontsize=10)
    return _png(ax1.figure)


# --- HTML ---------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1040px;
 margin:2em auto;color:#212529;line-height:1.45;padding:0 1em}
h1{margin-bottom:.2em}
h2{border-bottom:2px solid #dee2e6;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
td,th{border:1px solid #dee2e6;padding:.25em .6em;text-align:right}
th{background:#f1f3f5}td:first-child,th:first-child{text-align:left}
.kpis{display:flex;flex-wrap:wrap;gap:.8em}
.kpi{background:#f8f9fa;border-radius:8px;padding:.6em 1em}
.kpi b{display:block;font-size:1.5em}.note{color:#495057;font-size:.9em}.warn{color:#c92a2a}
img{max-width:100%}code{background:#f1f3f5;padding:0 .3em;border-radius:3px}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.3f}" if abs(x) < 10 else f"{x:,.1f}"
    return _e(x)


def _pct(x: Any) -> str:
    return "-" if x is None else f"{x:.1%}"


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    h = "".join(f"<th>{_e(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{body}</table>"


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{b64}">'


def _kpis(items: Iterable[tuple[str, Any]]) -> str:
    cells = "".join(f'<div class="kpi"><b>{v}</b>{_e(k)}</div>' for k, v in items)
    return f'<div class="kpis">{cells}</div>'


def render_html(s: Mapping[str, Any]) -> str:
    """The whole report as one HTML document (plots inline)."""
    parts: list[str] = []
    run = s["run"]
    parts.append(
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>labelops demo {_e(run['run_id'])}</title><style>{CSS}</style></head><body>"
        "<h1>labelops: the labeling workflow on handwritten digits</h1>"
    )
    for section in (
        _intro,
        _ontology,
        _curation,
        _routing,
        _prelabel,
        _qa,
        _datasets,
        _mlops,
        _run,
    ):
        parts.append(section(s))
    parts.append("</body></html>")
    return "\n".join(parts)


def _intro(s: Mapping[str, Any]) -> str:
    run, cur, r, p = s["run"], s["curation"], s["routing"], s["prelabel"]
    out = [
        f"<p class='note'>Run <code>{_e(run['run_id'])}</code>, scale <b>{_e(run['scale'])}</b>,"
        f" {_e(run.get('mode', 'services'))}; {run['wall_seconds']} s of workflow. Every number"
        " below comes from the six services' answers and event logs during this run; the"
        " simulated people's truth is used only to grade them.</p>"
    ]
    out += [f"<p class='warn'>{_e(w)}</p>" for w in run.get("warnings", [])]
    out.append(
        _kpis(
            [
                ("items imported", cur["items_registered"]),
                ("duplicates removed", cur["duplicates_removed"]),
                ("labels submitted", sum(r["labels_per_pool"].values())),
                ("model versions", len(p["versions"])),
                ("dataset versions", len(s["datasets"]["versions"])),
                ("final labels right", _pct(s["mlops"].get("label_accuracy_vs_truth"))),
            ]
        )
    )
    return "\n".join(out)


def _ontology(s: Mapping[str, Any]) -> str:
    o = s["ontology"]
    return (
        "<h2>1. Ontology</h2>"
        f"<p>Ontology <code>{_e(o['ontology_id'])}</code> version <b>{_e(o['version'])}</b>:"
        f" {len(o['classes'])} whole-item classes ({_e(', '.join(o['classes']))}), fingerprint"
        f" <code>{_e(o['fingerprint'][:16])}…</code>. Routing validates every label against"
        " this exact version.</p>"
    )


def _curation(s: Mapping[str, Any]) -> str:
    c = s["curation"]
    inj = c["injected"]
    waves = " and ".join(map(str, c["waves"]))
    out = [
        "<h2>2. Curation</h2>",
        f"<p>{c['items_received']} items imported into dataset"
        f" <code>{_e(c['dataset_id'])}</code> ({inj['exact_copies']} exact and"
        f" {inj['near_copies']} near copies injected), each a PNG as a <code>data:</code> URI"
        " plus its 64 pixel values as a custom vector; curation wrote"
        f" {c['vectors_written']} vectors in spaces {_e(', '.join(c['vector_spaces']))}."
        f" <b>{c['exact_duplicates']}</b> exact duplicates were excluded at registration (same"
        f" checksum); FindDuplicates scanned {c['items_scanned']} items and found"
        f" {c['near_duplicate_groups']} near-duplicate groups (cosine ≥ 0.99 in pixel space,"
        f" {c['near_duplicate_groups_injected']} of them our injected pairs); CurateItems"
        f" excluded <b>{c['near_duplicates_excluded']}</b>."
        f" <b>Duplicates removed: {c['duplicates_removed']}.</b> {c['included']} items"
        f" included, labeled in two waves of {_e(waves)}.</p>",
        _img(plot_curation(c), "curation funnel"),
    ]
    if c.get("samples"):
        out.append(_img(plot_samples(c["samples"]), "copies"))
    return "\n".join(out)


def _routing(s: Mapping[str, Any]) -> str:
    r, qa = s["routing"], s["qa"]
    cfg = r["config"]
    pools = _table(
        [
            "pool",
            "kind",
            "vendor",
            "capacity",
            "cost/task",
            "annotators",
            "tasks",
            "labels",
            "label accuracy",
            "cost",
        ],
        [
            [
                _e(pl["team"]),
                _e(pl["kind"]),
                _e(pl["vendor_id"] or "-"),
                pl["capacity"] or "∞",
                f"{pl['cost_per_task']:.2f}",
                _e(", ".join(pl["annotators"])),
                r["tasks_per_pool"].get(pl["team"], 0),
                r["labels_per_pool"].get(pl["team"], 0),
                _pct(r["label_accuracy_per_pool"].get(pl["team"])),
                f"{r['cost'].get(pl['team'], 0):.2f}",
            ]
            for pl in r["pools"]
        ],
    )
    rules = _table(
        ["rule", "when", "pools (first with room wins)", "tasks"],
        [
            [
                _e(x["name"]),
                _e(x["when"]),
                _e(" → ".join(x["pools"])),
                r["tasks_by_rule"].get(x["name"], 0),
            ]
            for x in r["rules"]
        ],
    )
    text = (
        f"<p>Overlap: {cfg['overlap']['default']['sample_rate']:.0%} of tasks labeled twice by"
        f" default, every task hinted as {_e(', '.join(cfg['overlap']['per_class']))} twice;"
        f" tasks by labels required: {_e(r['required_labels'])} (one more after a label"
        f" issue). Gold: {r['gold_tasks']} gold tasks, {cfg['gold_rate']:.0%} of offer slots."
        f" {r['rerouted_by_prelabels']} tasks were re-routed when the model's pre-label"
        " arrived. Vendors worked through the bidirectional <code>Work</code> stream with"
        f" their own vendor keys ({_e(r['vendor_stream_messages'])} stream messages); the"
        " in-house team through unary ClaimTasks / SubmitLabels.</p>"
    )
    people = _table(
        ["annotator", "pool", "labels", "of them gold", "accuracy vs truth", "median s"],
        [
            [
                _e(n),
                _e(a["team"]),
                a["labels"],
                a["gold"],
                _pct(a["accuracy_vs_truth"]),
                a["median_seconds"],
            ]
            for n, a in sorted(r["labels_per_annotator"].items())
        ],
    )
    outcomes = _table(
        ["pool", "no pre-label", "pre-label accepted", "pre-label replaced"],
        [
            [_e(t), o.get("none", 0), o.get("accepted", 0), o.get("replaced", 0)]
            for t, o in sorted(r["prelabel_outcomes"].items())
        ],
    )
    return "\n".join(
        [
            "<h2>3. Routing</h2>",
            pools,
            rules,
            text,
            _img(plot_pools(r), "tasks per pool"),
            _img(plot_rounds(r["rounds"]), "rounds"),
            _img(plot_annotators(r["labels_per_annotator"], qa["annotators"]), "annotators"),
            people,
            outcomes,
        ]
    )


def _saving(svc: Mapping[str, Any] | None) -> str:
    if not svc:
        return "-"
    lo, hi = _fmt(svc["saving_low_s"]), _fmt(svc["saving_high_s"])
    return f"{_fmt(svc['saving_s'])} [{lo}, {hi}]"


def _prelabel(s: Mapping[str, Any]) -> str:
    p = s["prelabel"]
    text = (
        f"<p>Model <code>{_e(p['model_id'])}</code>: built-in logistic regression on the"
        f" <code>{_e(p['vector_space'])}</code> vectors, retrained every {p['retrain_every']}"
        f" accepted labels: <b>{len(p['versions'])} versions</b>"
        f" ({p['model_trained_events']} ModelTrained events). Offers carried its pre-labels;"
        f" annotators kept {_pct(p['prelabel_acceptance'])} of those shown (ACCEPTED, else"
        f" REPLACED), saving about {p['seconds_saved']:.0f} s of labeling time (median scratch"
        " minus median pre-labeled seconds, times pre-labeled labels).</p>"
    )
    versions = _table(
        ["version", "trained on", "held-out accuracy", "macro F1", "test size"],
        [
            [
                _e(v["version"]),
                v["trained_on"],
                _fmt(v["heldout_accuracy"]),
                _fmt(v["macro_f1"]),
                v["test_size"],
            ]
            for v in p["versions"]
        ],
    )
    classes = _table(
        [
            "class",
            "shown",
            "accepted",
            "replaced",
            "scratch",
            "acceptance",
            "pre-label right",
            "median s with",
            "median s without",
            "service: saving s [95% CI]",
            "service: on",
        ],
        [
            [
                _e(c["class"]),
                c["shown"],
                c["accepted"],
                c["replaced"],
                c["from_scratch"],
                _pct(c["acceptance_rate"]),
                _pct(c["prelabel_precision"]),
                _fmt(c["median_s_with"]),
                _fmt(c["median_s_without"]),
                _saving(c["service"]),
                ("yes" if c["service"]["enabled"] else "<b>off</b>") if c["service"] else "-",
            ]
            for c in p["classes"]
        ],
    )
    al = _table(
        [
            "wave.round",
            "model version",
            "open tasks scored",
            "batch",
            "batch uncertainty",
            "rest uncertainty",
            "next round's offers from the batch",
            "by chance",
        ],
        [
            [
                f"{a['phase']}.{a['round']}",
                _e(a.get("model_version") or "cold start"),
                a["scored"],
                a["batch"],
                _fmt(a.get("batch_uncertainty")),
                _fmt(a.get("rest_uncertainty")),
                _pct(a.get("next_offers_from_batch")),
                _pct(a.get("random_share")),
            ]
            for a in p["active_learning"]
        ],
    )
    return "\n".join(
        [
            "<h2>4. Pre-labeling, model in the loop, active learning</h2>",
            text,
            _img(plot_model(p["accuracy_vs_labels"], p["versions"]), "model accuracy"),
            versions,
            _img(plot_prelabels(p["classes"]), "pre-label ROI"),
            classes,
            "<p>Active learning: ScorePriorities (entropy, k-center diversity) after every"
            " round; routing orders each pool's queue by the priorities.</p>",
            al,
        ]
    )


def _qa(s: Mapping[str, Any]) -> str:
    qa, li, run = s["qa"], s.get("qa_label_issues", {}), s["run"]
    ag, rv, dsk = qa["agreement"], qa["review"], qa["dawid_skene"]
    out = [
        "<h2>5. QA</h2>",
        "<p>Consensus ran as tasks completed (majority vote, live). Targeted review sent"
        f" {rv['reviewed']} tasks to the review queue; the reviewer bot accepted"
        f" {rv['accepted']} and fixed {rv['fixed']} with the true class. Agreement over"
        f" {ag['items']} items and {ag['annotators']} annotators: Krippendorff's alpha"
        f" <b>{_fmt(ag['krippendorff_alpha'])}</b> ({ag.get('multi_label_tasks', '?')} tasks"
        " with two or more labels). A Dawid-Skene re-run over the whole project changed"
        f" {dsk['changed_vs_live']} of {dsk['tasks']} tasks against the live majority vote;"
        f" graded on {dsk.get('graded_tasks', 0)} tasks, Dawid-Skene is right on"
        f" {_pct(dsk.get('accuracy_vs_truth'))}, the live consensus on"
        f" {_pct(dsk.get('live_accuracy_vs_truth'))}.</p>",
        _img(plot_agreement(ag), "agreement"),
        _table(
            [
                "class",
                "alpha, all multi-labeled tasks",
                "alpha, QA service",
                "pairwise agreement (true class)",
            ],
            [
                [
                    _e(c),
                    _fmt(ag.get("per_class_alpha_all_items", {}).get(c)),
                    _fmt(ag["per_class_alpha"].get(c)),
                    _pct(ag.get("pairwise_agreement_by_true_class", {}).get(c)),
                ]
                for c in CLASSES
            ],
        ),
        _table(
            [
                "annotator",
                "pool",
                "gold answered",
                "gold accuracy",
                "recent accuracy",
                "drifting (QA)",
            ],
            [
                [
                    _e(a["annotator"]),
                    _e(a["team"]),
                    a["gold_answered"],
                    _pct(a["gold_accuracy"]),
                    _pct(a["recent_accuracy"]),
                    "<b class='warn'>yes</b>" if a["drifting"] else "no",
                ]
                for a in qa["annotators"]
            ],
        ),
    ]
    drift = "; ".join(
        f"{_e(d['annotator'])} {_pct(d['baseline_accuracy'])} → {_pct(d['recent_accuracy'])}"
        f" over the last {d['recent_answers']}"
        for d in qa["drift_events"]
    )
    per_pool = ", ".join(f"{_e(t)} {_pct(v)}" for t, v in sorted(qa["team_gold_accuracy"].items()))
    out.append(
        f"<p>Gold accuracy per pool: {per_pool}. Vendor B starts drifting with the second wave."
        " Drift events (AnnotatorDriftDetected): "
        + (drift or "none (a verdict needs two windows of gold answers per annotator)")
        + ".</p>"
    )
    out.append(_img(plot_drift(qa["gold_series"], 5 if run["scale"] == "small" else 10), "drift"))
    if li:
        out.append(
            "<p>Label issues: prelabel's cross-validated probabilities"
            f" (<code>{_e(li['model'])}</code>) → QA FindLabelIssues examined {li['examined']}"
            f" accepted labels and flagged <b>{li['flagged']}</b>: {li['flagged_really_wrong']}"
            f" of them hold a wrong accepted label (of {li['wrong_accepted_labels_before']} wrong"
            " accepted labels at the time); for"
            f" {li.get('flagged_given_is_not_the_accepted_label', 0)} the class QA judged is the"
            " consensus a reviewer had already fixed. Routing reopened them;"
            f" {li.get('relabeled', 0)} were labeled again, QA accepted"
            f" {li.get('relabels_accepted', 0)} of those re-labels.</p>"
        )
        if li.get("relabels_not_accepted"):
            out.append(
                f"<p class='warn'>{li['relabels_not_accepted']} re-labels of flagged tasks never"
                " became accepted labels: QA's consumer dead-lettered them (ConcurrencyConflict"
                ' on the task\'s stream after LabelIssueFlagged). See "What the demo found".</p>'
            )
        out.append(
            _table(
                ["item", "given (QA)", "accepted", "suggested", "truth", "self-confidence"],
                [
                    [
                        _e(x["item"]),
                        _e(x["given"]),
                        _e(x.get("accepted", "")),
                        _e(x["suggested"]),
                        _e(x["truth"]),
                        _fmt(x["self_confidence"]),
                    ]
                    for x in li.get("examples", [])
                ],
            )
        )
    return "\n".join(out)


def _blame(blame: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(
        f"@{b['offset']} {b['consensus']} {b['review'] or ''} {','.join(b['annotators'])}"
        for b in blame
    )


def _datasets(s: Mapping[str, Any]) -> str:
    ds = s["datasets"]
    diff = ds["diff"]
    out = [
        "<h2>6. Dataset versions</h2>",
        _table(
            [
                "version",
                "description",
                "rows",
                "labels",
                "files (reused)",
                "bytes",
                "manifest sha256",
                "cut (partition: end offset)",
            ],
            [
                [
                    v["version"],
                    _e(v["description"]),
                    v["rows"],
                    v["labels"],
                    f"{v['files']} ({v['files_reused']})",
                    f"{v['bytes']:,}",
                    f"<code>{_e(v['manifest_sha256'][:16])}…</code>",
                    _e(v["cut"]),
                ]
                for v in ds["versions"]
            ],
        ),
        f"<p>Diff v{diff['from']} → v{diff['to']}: <b>{diff['added']} added,"
        f" {diff['removed']} removed, {diff['changed']} changed</b>, {diff['unchanged']}"
        f" unchanged ({diff['changed_to_truth']} changes moved a label to the true class).</p>",
    ]
    if diff["examples"]:
        out.append(
            _table(
                ["item", "from", "to", "truth", "changed", "blame"],
                [
                    [
                        _e(x["item"]),
                        _e(x["from"]),
                        _e(x["to"]),
                        _e(x["truth"]),
                        _e(", ".join(x["fields"])),
                        _e(_blame(x["blame"])),
                    ]
                    for x in diff["examples"]
                ],
            )
        )
    return "\n".join(out)


def _mlops(s: Mapping[str, Any]) -> str:
    m = s["mlops"]
    code = (
        "from labelops_client import Client\n"
        f"version = Client(target, api_key=key).dataset({m['dataset_id']!r})"
        f".version({m['version']})"
        "\ndf = version.to_pandas()"
    )
    out = [
        "<h2>MLOps fetch</h2>",
        f"<pre>{_e(code)}</pre>",
        f"<p>{m['rows']} rows (the version record says {m['version_rows']}), {m['columns']}"
        f" columns; splits {_e(m['split_counts'])}; review decisions"
        f" {_e(m['review_decisions'])}; labels that match the truth:"
        f" <b>{_pct(m.get('label_accuracy_vs_truth'))}</b>.</p>",
        _img(plot_datasets(s["datasets"], m), "datasets"),
    ]
    if m.get("head"):
        cols = list(m["head"][0])
        out.append(_table(cols, [[_e(row[c]) for c in cols] for row in m["head"]]))
    return "\n".join(out)


def _run(s: Mapping[str, Any]) -> str:
    stages = s["run"].get("stage_seconds", {})
    found = findings(s)
    return "\n".join(
        [
            "<h2>Run</h2>",
            _table(["stage", "seconds"], [[_e(k), f"{v:.1f}"] for k, v in stages.items()]),
            "<h2>What the demo found</h2>",
            "<ul>" + "".join(f"<li>{_e(f)}</li>" for f in found) + "</ul>"
            if found
            else "<p>Nothing unexpected.</p>",
        ]
    )


def findings(s: Mapping[str, Any]) -> list[str]:
    """Service behaviour worth an operator's attention, as observed in this run."""
    out: list[str] = []
    dead = s["run"].get("dead_letters", {})
    for what, n in dead.get("by", {}).items():
        out.append(f"{n} event(s) dead-lettered on {what}")
    li = s.get("qa_label_issues", {})
    if li.get("relabels_not_accepted"):
        out.append(
            f"{li['relabels_not_accepted']} re-labeled task(s) flagged by FindLabelIssues never"
            " got a new LabelAccepted: QA appends LabelIssueFlagged to the task stream without"
            " advancing the version it tracks for the task, so its next append conflicts."
        )
    if li.get("flagged_given_is_not_the_accepted_label"):
        out.append(
            f"FindLabelIssues judged {li['flagged_given_is_not_the_accepted_label']} task(s) by"
            " their consensus class although a reviewer had fixed the accepted label (the issue's"
            " given_class differs from the task's LabelAccepted); such tasks are reopened for"
            " nothing."
        )
    dsk = s["qa"].get("dawid_skene", {})
    ds_acc, live_acc = dsk.get("accuracy_vs_truth"), dsk.get("live_accuracy_vs_truth")
    if ds_acc is not None and live_acc is not None and ds_acc < live_acc - 0.05:
        out.append(
            f"Dawid-Skene re-run is right on {ds_acc:.0%} of tasks, the live majority vote on"
            f" {live_acc:.0%}: with one or two labels per task it cannot estimate a confusion"
            " matrix per annotator."
        )
    steady = [
        a["annotator"] for a in s["qa"]["annotators"] if a["drifting"] and a["team"] != "vendor-b"
    ]
    if steady:
        out.append(
            f"QA flagged {', '.join(steady)} as drifting although only vendor B's accuracy"
            " changes in this simulation (no significance test behind the flag)."
        )
    if s["run"].get("aborted_retries"):
        out.append(
            f"ScorePriorities answered ABORTED {s['run']['aborted_retries']} time(s) (another"
            " append to the project's pre-labeling stream at the same moment); retried."
        )
    ag = s["qa"]["agreement"]
    svc = [v for v in ag["per_class_alpha"].values() if v is not None]
    if svc and max(svc) <= 0 < (ag["krippendorff_alpha"] or 0):
        out.append(
            "QA's per-class alpha is at most 0 for every class while the overall alpha is"
            " positive: it is computed only over the items someone gave the class, which leaves"
            " too little variation to measure agreement against (the report shows a"
            " recomputation over every multi-labeled task beside it)."
        )
    return out


def write_report(summary: Mapping[str, Any], out: Path) -> Path:
    """``report.html`` and ``summary.json`` under ``out``; returns the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    path = out / "report.html"
    path.write_text(render_html(summary))
    return path


# --- terminal -----------------------------------------------------------------------------------


def print_summary(s: Mapping[str, Any], console: Any) -> None:
    """The summary as a rich table, then what the run found."""
    from rich.table import Table

    run, o, cur, r = s["run"], s["ontology"], s["curation"], s["routing"]
    p, qa, ds, m = s["prelabel"], s["qa"], s["datasets"], s["mlops"]
    t = Table(title=f"labelops demo {run['run_id']} ({run['scale']}): {run['wall_seconds']} s")
    t.add_column("stage")
    t.add_column("result")
    t.add_row("ontology", f"{o['ontology_id']} {o['version']}, {len(o['classes'])} classes")
    t.add_row(
        "curation",
        f"{cur['items_registered']} imported, {cur['duplicates_removed']} duplicates removed"
        f" ({cur['exact_duplicates']} exact, {cur['near_duplicates_excluded']} near),"
        f" {cur['included']} included",
    )
    tasks = ", ".join(f"{k} {v}" for k, v in sorted(r["tasks_per_pool"].items()))
    labels = ", ".join(f"{k} {v}" for k, v in r["labels_per_pool"].items())
    t.add_row("routing", f"tasks {tasks} | labels {labels} | gold tasks {r['gold_tasks']}")
    t.add_row(
        "label accuracy",
        ", ".join(f"{k} {v:.1%}" for k, v in sorted(r["label_accuracy_per_pool"].items())),
    )
    curve = p["accuracy_vs_labels"]
    step = max(1, len(curve) // 6)
    t.add_row(
        "prelabel",
        f"{len(p['versions'])} model versions; accuracy "
        + " → ".join(f"{x['accuracy_all_items']:.0%}@{x['labels_accepted']}" for x in curve[::step])
        + f"; pre-labels kept {_pct(p['prelabel_acceptance'])};"
        f" {len(p['active_learning'])} AL rounds",
    )
    drifting = ", ".join(a["annotator"] for a in qa["annotators"] if a["drifting"])
    gold = ", ".join(f"{k} {v:.0%}" for k, v in sorted(qa["team_gold_accuracy"].items()))
    issues = s.get("qa_label_issues", {}).get("flagged", "-")
    t.add_row(
        "qa",
        f"alpha {_fmt(qa['agreement']['krippendorff_alpha'])}; gold accuracy {gold};"
        f" drifting: {drifting or 'none flagged'}; reviewed {qa['review']['reviewed']};"
        f" label issues {issues}",
    )
    d = ds["diff"]
    versions = ", ".join(f"v{v['version']} {v['rows']} rows" for v in ds["versions"])
    t.add_row("datasets", f"{versions}; diff +{d['added']} -{d['removed']} ~{d['changed']}")
    per_class = ", ".join(f"{k.removeprefix('digit-')}:{v}" for k, v in m["class_counts"].items())
    t.add_row(
        "MLOps fetch",
        f"v{m['version']}: {m['rows']} rows; per class {per_class};"
        f" {_pct(m.get('label_accuracy_vs_truth'))} right",
    )
    console.print(t)
    for f in findings(s):
        console.print(f"[yellow]found:[/] {f}")
