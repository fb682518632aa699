"""Command line: each command parses options, makes one library call, prints a summary.

Errors from the library (:class:`FewLabelsError`) become one-line messages on stderr with
exit status 2; the traceback is never shown for a user mistake.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ._version import __version__
from .errors import FewLabelsError

app = typer.Typer(
    help="fewlabels: a calibrated label for every row from a few labels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

STAGE_TITLES = {"embed": "Embedding texts", "select": "Cross-validating methods", "rules": "Applying rules"}
STAGE_TITLES.update({"ft-folds": "Fine-tuning the encoder inside the folds", "finetune": "Fine-tuning the encoder",
                     "reembed": "Re-embedding with the fine-tuned encoder",
                     "extend": "Labeling the rows outside the core"})

ENGINE_HELP = ("'local' (one pass in this process) or 'ray': encoding, rules, k-NN search and prediction run in "
               "blocks of rows on a Ray cluster (needs the package ray); same labels either way.")
RAY_ADDRESS_HELP = ("With --engine ray: 'auto' (a cluster started here with `ray start --head`) or "
                    "ray://HOST:10001 (a remote cluster). Default: a local cluster for this run.")


@contextmanager
def progress_bars():
    """Yield a ``progress(stage, done, total)`` callback drawing one bar per stage; when stderr
    is not a terminal, plain lines instead (:class:`fewlabels.cli_help.PlainProgress`)."""
    if not err.is_terminal:
        from .cli_help import PlainProgress

        yield PlainProgress(lambda line: err.print(line, markup=False, highlight=False, soft_wrap=True), STAGE_TITLES)
        return
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=err, transient=False, disable=not err.is_terminal)
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(STAGE_TITLES.get(stage, stage), total=total)
        bars.update(tasks[stage], completed=done, total=total)

    with bars:
        yield update


def _note(line: str) -> None:
    err.print("[yellow]note:[/] ", end="", highlight=False)
    err.print(line, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def user_errors():
    """Run a command's body: a FewLabelsError becomes ``error: <one line>`` and exit 2;
    Ctrl-C exits 130; warnings from libraries print as one ``note:`` line each (the pipeline
    puts those of ``label`` into the report instead); any other exception is a bug, shown on
    one line with exit 1 (the traceback with FEWLABELS_DEBUG=1)."""
    import os

    from .errors import captured_warnings

    lines: list[str] = []
    try:
        with captured_warnings(lines):
            yield
    except FewLabelsError as exc:
        err.print("[bold red]error:[/] ", end="", highlight=False)
        err.print(" ".join(str(exc).split("\n")), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("interrupted; run the same command again to resume (finished embeddings are cached)")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except Exception as exc:
        if os.environ.get("FEWLABELS_DEBUG"):
            raise
        err.print("[bold red]error:[/] ", end="", highlight=False)
        err.print(f"internal error ({type(exc).__name__}: {' '.join(str(exc).split())}); this is a fewlabels bug: "
                  "please report it with the command (FEWLABELS_DEBUG=1 shows the traceback)",
                  markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    for line in lines:
        _note(line)


ENCODER_BACKEND_HELP = ("How texts are encoded: 'torch', 'onnx' (onnxruntime, same vectors) or 'onnx-int8' "
                        "(int8 weights: faster, cosine ~0.99 to torch). ONNX files are exported on first use and "
                        "checked against torch; without onnxruntime, torch is used with a note.")


def _classes(classes: Optional[str], classes_file: Optional[Path]):
    from .classes import parse_classes, read_classes_file
    from .errors import ConfigError

    if classes and classes_file:
        raise ConfigError("give either --classes or --classes-file, not both")
    if classes:
        return parse_classes(classes)
    if classes_file:
        return read_classes_file(classes_file)
    return None


def _fmt_est(est) -> str:
    if not est:
        return "n/a (too few labels)"
    if est.get("verified_by_labels") is True:  # a random audit checked it: fewlabels.audit
        return (f"{est['value']:.3f} (95% {est['low']:.3f}-{est['high']:.3f}; verified by {est['n_audit']} "
                "audit labels)")
    if "share_error" in est:  # label proportions: estimated on held-out bags
        return f"{est['value']:.3f} (held-out bags; share error {est['share_error']:.3f})"
    if est.get("abstained"):  # no point estimate: the rules cannot identify it (the reason is a note)
        return f"none: abstained (bound {est['low']:.3f}-{est['high']:.3f}; see the note below)"
    if est.get("verified_by_labels") is False:  # rules and no label: model-based
        return f"{est['value']:.3f} (95% {est['low']:.3f}-{est['high']:.3f}; unverified: no labels)"
    cv = f"; CV {est['cross_validated']['value']:.3f}" if "cross_validated" in est else ""  # fits 80 columns
    return f"{est['value']:.3f} (95% {est['low']:.3f}-{est['high']:.3f}, {est['n_labels']} labels{cv})"


def _print_summary(report: dict) -> None:
    t = Table(title="fewlabels", show_header=False, box=None)
    t.add_row("chosen method", report["method"])
    t.add_row("estimated accuracy", _fmt_est(report["estimated_accuracy"]))
    if "model_based" in (report["estimated_accuracy"] or {}):
        t.add_row("model-based estimate", _fmt_est(report["estimated_accuracy"]["model_based"]))
    cal = report["calibration"]
    if "ece_after" in cal:
        kept_off = cal.get("applied") is False  # scaling would not lower the ECE: uncalibrated kept
        t.add_row("calibration error (ECE)", f"{cal['ece_before']:.3f} -> {cal['ece_after']:.3f} (T="
                  f"{cal.get('fitted_temperature', cal['temperature']):.2f})" + (": not lower, kept off (T=1)"
                                                                              if kept_off else ""))
    t.add_row("rows", f"{report['n_rows']} ({report['n_given']} given)")
    out.print(t)
    from .report.text import finetune_line

    ft = finetune_line(report)
    if ft:
        out.print(ft, markup=False, highlight=False, soft_wrap=True)
    if report["candidates"]:
        c = Table(title="candidates (out-of-fold accuracy on the given labels)")
        for col in ("method", "accuracy", "95% interval", "seconds"):
            c.add_column(col)
        for name, s in sorted(report["candidates"].items(), key=lambda kv: -kv[1]["accuracy"]):
            c.add_row(name, f"{s['accuracy']:.3f}", f"{s['low']:.3f}-{s['high']:.3f}", f"{s['seconds']:.1f}")
        out.print(c)
    for w in ([report["fallback"]] if report.get("fallback") else []) + report.get("warnings", []):
        err.print("[yellow]note:[/] ", end="", highlight=False)
        err.print(w, markup=False, highlight=False, soft_wrap=True)


def _print_plan(p) -> None:
    from rich.table import Table

    t = Table(title=f"plan: {p.n_rows:,} rows x {p.dims} dims, {p.n_classes} classes, {p.n_labels:,} given labels"
              + ("" if p.core_rows == p.n_rows else f"; core of {p.core_rows:,} rows"))
    t.add_column("stage")
    t.add_column("predicted s", justify="right")
    t.add_column("what")
    for stage, sec, note in p.stages:
        t.add_row(stage, f"{sec:,.0f}", note)
    t.add_row("total", f"{p.total_s:,.0f}", f"about {p.total_s / 60:.1f} min on a 2-core laptop")
    out.print(t)
    out.print(f"predicted peak memory: {p.peak_gb:.1f} GB. Nothing was embedded or written (--dry-run).",
              markup=False)


@app.command()
def label(
    input: Path = typer.Argument(..., help="Table to label: .csv, .tsv, .jsonl, .parquet or .json (an array of row "
                                 "objects, or JSON lines); or a WRENCH .json "
                                 "split (texts, weak_labels as the votes, classes from its label.json)."),
    out_path: Path = typer.Option(..., "--out", "-o", help="Output table (format from its extension)."),
    text_column: Optional[str] = typer.Option(None, help="Column holding the texts [default: text]."),
    label_column: Optional[str] = typer.Option(None, help="Column of given labels, empty where unknown. "
                                               "Default: 'label' if the table has it."),
    classes: Optional[str] = typer.Option(None, help="Class names, comma-separated (allows classes with no label)."),
    classes_file: Optional[Path] = typer.Option(None, help="One class per line, optionally 'name: description'."),
    method: str = typer.Option("auto", help="'auto' (cross-validated choice) or a method from `fewlabels methods`."),
    rules: Optional[Path] = typer.Option(None, help="Labeling rules: a .py file of @fewlabels.rule functions or a "
                                         ".toml of keywords/regexes per class. Adds rule-based candidates."),
    strict: bool = typer.Option(False, help="A rule that raises on a row is an error (default: reported, skipped)."),
    votes: Optional[Path] = typer.Option(None, help="Your own label matrix: a .npy of n x m ints, one row per table "
                                         "row, -1 = abstain, class codes in --classes order. Adds rule-based "
                                         "candidates, as --rules does (both: columns side by side)."),
    votes_column: Optional[str] = typer.Option(None, help="Column holding the label matrix as one list of ints per "
                                               "row (JSONL/Parquet), codes as for --votes."),
    report: Optional[Path] = typer.Option(None, help="Write a JSON report (estimate, candidates, timings) here."),
    save_model: Optional[Path] = typer.Option(None, help="Save the end model to this folder (npz + json)."),
    vectors: Optional[Path] = typer.Option(None, help="Precomputed embeddings (.npy, one row per table row)."),
    vectors_column: Optional[str] = typer.Option(None, help="Column holding precomputed embeddings as lists."),
    encoder: Optional[Path] = typer.Option(None, help="Local sentence-transformers folder (default: packaged all-MiniLM-L6-v2)."),
    encoder_backend: str = typer.Option("torch", "--encoder-backend", help=ENCODER_BACKEND_HELP),
    cache: Optional[Path] = typer.Option(None, help="Embedding cache database (default: $FEWLABELS_CACHE or ~/.cache/fewlabels)."),
    folds: int = typer.Option(5, min=2, help="Cross-validation folds over the given labels."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same output."),
    finetune: str = typer.Option("auto", help="Fine-tune the encoder on the labels as one more candidate: "
                                 "'auto' (with at least 20 given labels, when the frozen estimate leaves room and the "
                                 "planned work fits --time-budget; decided from the table and the labels, never from "
                                 "a live timing), 'on' or 'off'."),
    time_budget: float = typer.Option(300.0, min=0, help="Cap on the fine-tuning work 'auto' may plan, in seconds on "
                                      "a 2-core laptop (planned from the table's size, not a stopwatch); over it, "
                                      "the training steps are cut to fit, to half at least."),
    labels_db: Optional[Path] = typer.Option(None, help="Label store (SQLite, from `fewlabels review` or "
                                             "`fewlabels labels import`); its labels join the given ones and win "
                                             "a conflict, which is reported."),
    id_column: Optional[str] = typer.Option(None, help="Column of unique row ids, the rows' keys in the label "
                                            "store [default: the column the store recorded, else a hash of the "
                                            "text, with a warning]."),
    html: Optional[Path] = typer.Option(None, help="Write a self-contained HTML report (plots inline) here."),
    unknown: bool = typer.Option(False, "--unknown", help="Rows far from every class get the label 'unknown' (given "
                                 "labels 'unknown' help set the threshold). Default threshold: 2% of the given "
                                 "labels rejected; the report's unknown.curve shows the other operating points."),
    unknown_rate: Optional[float] = typer.Option(None, help="With --unknown (implied): flag this share of the rows "
                                                 "without a given label, e.g. 0.1."),
    unknown_false_reject: Optional[float] = typer.Option(None, help="With --unknown (implied): the threshold "
                                                         "rejects this share of the given labels (scored out of "
                                                         "fold), 0 to 0.5 [default: 0.02]. Higher flags more."),
    unknown_precision: Optional[float] = typer.Option(None, help="With --unknown (implied): flag the most rows "
                                                      "whose estimated precision (share truly unknown) is at "
                                                      "least this, e.g. 0.9."),
    unknown_recall: Optional[float] = typer.Option(None, help="With --unknown (implied): flag the fewest rows whose "
                                                   "estimated recall of the unknown rows is at least this, e.g. "
                                                   "0.8. One of the four --unknown-* options at most."),
    bag_column: Optional[str] = typer.Option(None, help="Column naming each row's bag (group of rows), for "
                                             "--proportions or --bag-label-column."),
    proportions: Optional[Path] = typer.Option(None, help="CSV of class shares per bag: columns bag,class,share."),
    bag_label_column: Optional[str] = typer.Option(None, help="Column holding each row's bag label: the classes "
                                                   "at least one row of the bag has, e.g. 'a' or 'a|b'."),
    negative_class: Optional[str] = typer.Option(None, help="With --bag-label-column: the background class any "
                                                 "bag may hold (e.g. 'ham')."),
    fold_case: bool = typer.Option(False, "--fold-case", help="Merge given labels that differ only by case "
                                   "('Spam', 'spam') into one class (default: kept apart, with a note)."),
    engine: str = typer.Option("local", help=ENGINE_HELP),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (stages, predicted time and peak "
                                 "memory from the row count) and stop; nothing is embedded or written."),
    audit: Optional[Path] = typer.Option(None, help="Audit file from `fewlabels audit`, its label column filled: "
                                         "used only to measure (never to train), it makes the estimate a "
                                         "verified one."),
):
    """Label every row of a table from a few given labels, with calibrated confidences.

    Adds a fewlabels_suspect column: True where a given label is probably wrong (confident
    learning on the out-of-fold probabilities)."""
    with user_errors():
        from .embed import EmbeddingCache, use_backend
        from .engine import open_engine
        from .loop.tables import label_with_store
        from .pipeline import check_outputs
        from .validation import check_random_state

        check_random_state(seed)
        unknown_options = _unknown_options(unknown_rate, unknown_false_reject, unknown_precision, unknown_recall)
        check_outputs(input, out_path=out_path, report_path=report, save_model=save_model, html=html,
                      reads={"--rules": rules, "--classes-file": classes_file, "--vectors": vectors,
                             "--encoder": encoder, "--proportions": proportions, "--votes": votes,
                             "--audit": audit},
                      stores={"--cache": cache, "--labels-db": labels_db})
        spec = _classes(classes, classes_file)
        if dry_run:
            from .plan import plan_table

            _print_plan(plan_table(input, text_column=text_column, label_column=label_column, classes=spec,
                                   vectors=vectors, vectors_column=vectors_column, backend=encoder_backend,
                                   finetune=finetune, time_budget=time_budget))
            return
        with use_backend(encoder_backend), open_engine(engine, ray_address) as eng, progress_bars() as progress:
            result = label_with_store(input, out_path, labels_db=labels_db, id_column=id_column, html_path=html,
                                      text_column=text_column, label_column=label_column, classes=spec,
                                      vectors=vectors, vectors_column=vectors_column, encoder_path=encoder,
                                      cache=EmbeddingCache(cache) if cache else None, method=method, rules=rules,
                                      strict_rules=strict, votes=votes, votes_column=votes_column, report_path=report,
                                      save_model=save_model, n_splits=folds, random_state=seed, progress=progress,
                                      unknown=unknown, unknown_options=unknown_options, bag_column=bag_column,
                                      proportions=proportions,
                                      bag_label_column=bag_label_column, negative_class=negative_class,
                                      fold_case=fold_case, finetune=finetune, time_budget=time_budget,
                                      engine=eng, audit=audit)
        if "rules" in result.report:
            _print_rules(result.report["rules"])
        _print_summary(result.report)
        if "unknown" in result.report:
            _print_unknown(result.report["unknown"])
        issues = result.report.get("label_issues")
        if issues:
            out.print(f"suspected label errors: {issues['n_suspect']} of {issues['n_checked']} given labels "
                      "(column fewlabels_suspect)", markup=False, soft_wrap=True)
        out.print(f"wrote {out_path}" + (f", {report}" if report else "") + (f", {html}" if html else "")
                  + (f", model in {save_model}" if save_model else ""), soft_wrap=True, markup=False)


def _unknown_options(rate, false_reject, precision, recall) -> dict | None:
    """The --unknown-* options set, checked before any work (None: none set)."""
    from .labelers.openset_points import check_operating_point

    opts = {"rate": rate, "false_reject": false_reject, "precision": precision, "recall": recall}
    check_operating_point(**opts)
    return {k: v for k, v in opts.items() if v is not None} or None


def _print_unknown(u: dict) -> None:
    out.print(f"unknown: {u['flagged']} rows flagged ({u['flagged_share']:.1%} of the rows without a given label, "
              f"{u['false_reject_on_given']:.1%} of the given labels); estimated share of unknown rows "
              f"{u['estimated_share']:.1%} (95% {u['estimated_share_low']:.1%}-{u['estimated_share_high']:.1%})",
              markup=False, soft_wrap=True)
    if not u.get("curve"):
        return
    t = Table(title="unknown: operating points (--unknown-rate / -false-reject / -precision / -recall)")
    for col in ("flagged share", "given labels lost", "est. precision", "est. recall"):
        t.add_column(col, justify="right")
    for p in u["curve"]:
        t.add_row(f"{p['flagged_share']:.1%}", f"{p['given_labels_lost']:.1%}",
                  "-" if p["est_precision"] is None else f"{p['est_precision']:.2f}",
                  "-" if p["est_recall"] is None else f"{p['est_recall']:.2f}")
    out.print(t)


def _print_rules(rep: dict) -> None:
    t = Table(title=f"rules ({rep['totals']['rules']} on {rep['totals']['rows']} rows: coverage "
                    f"{rep['totals']['coverage']:.1%}, overlaps {rep['totals']['overlaps']:.1%}, "
                    f"conflicts {rep['totals']['conflicts']:.1%})")
    for col in ("rule", "polarity", "coverage", "overlaps", "conflicts", "accuracy (given labels)"):
        t.add_column(col)
    for r in rep["rules"]:
        acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.2f} ({r['n_labeled']})"
        t.add_row(r["rule"], ",".join(r["polarity"]), f"{r['coverage']:.1%}", f"{r['overlaps']:.1%}",
                  f"{r['conflicts']:.1%}", acc)
    out.print(t)
    for e in rep.get("errors", []):
        err.print(f"note: rule {e['rule']!r} raised on {e['count']} row(s), first on row {e['row']}: {e['error']}",
                  markup=False, highlight=False, soft_wrap=True)
    slow = ", ".join(f"{s['rule']} {s['seconds']:.2f}s" for s in rep.get("slowest", []))
    out.print(f"slowest rules: {slow}", markup=False, soft_wrap=True)


@app.command("rules")
def rules_command(
    input: Path = typer.Argument(..., help="Table: .csv, .tsv, .jsonl or .parquet."),
    rules: Optional[Path] = typer.Option(None, help="A .py file of @fewlabels.rule functions or a .toml of "
                                         "keywords/regexes."),
    synthesize: Optional[Path] = typer.Option(None, help="Instead of --rules: mine keyword rules from the given "
                                              "labels and write them to this .toml (review it, then use it with "
                                              "--rules)."),
    force: bool = typer.Option(False, help="With --synthesize: replace the file if it exists."),
    min_support: Optional[int] = typer.Option(None, min=1, help="With --synthesize: labeled texts a keyword must "
                                              "appear in [default: 3]."),
    min_precision: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="With --synthesize: share of "
                                                  "those texts that must be of the keyword's class [default: 0.8]."),
    text_column: str = typer.Option("text", help="Column holding the texts."),
    label_column: Optional[str] = typer.Option(None, help="Given labels, for each rule's accuracy (and for "
                                               "--synthesize) [default: 'label' if the table has it]."),
    classes: Optional[str] = typer.Option(None, help="Class names, comma-separated."),
    classes_file: Optional[Path] = typer.Option(None, help="One class per line, optionally 'name: description'."),
    strict: bool = typer.Option(False, help="A rule that raises on a row is an error."),
    report: Optional[Path] = typer.Option(None, help="Write the analysis as JSON here."),
    fold_case: bool = typer.Option(False, "--fold-case", help="Merge given labels that differ only by case."),
):
    """Apply labeling rules to a table and print each rule's coverage, overlaps, conflicts and accuracy.

    With --synthesize RULES.toml instead of --rules, keyword rules are first mined from the
    given labels (each keyword checked by cross-validation; its numbers are in a comment) and
    written to RULES.toml, then analysed the same way.
    """
    with user_errors():
        from .errors import ConfigError
        from .io import same_file, write_json
        from .pipeline import check_outputs, rules_table, synthesize_table

        if (rules is None) == (synthesize is None):
            raise ConfigError("give --rules FILE to analyse a rules file, or --synthesize FILE.toml to mine one from "
                              "the given labels" + (", not both" if rules else ""))
        options = {k: v for k, v in (("min_support", min_support), ("min_precision", min_precision)) if v is not None}
        if synthesize is None and (options or force):
            raise ConfigError("--force, --min-support and --min-precision go with --synthesize")
        if synthesize is not None and classes_file is not None and same_file(synthesize, classes_file):
            raise ConfigError(f"{synthesize}: --synthesize is the --classes-file; choose another path")
        check_outputs(input, report_path=report, synthesize=synthesize,
                      reads={"--rules": rules, "--classes-file": classes_file})
        spec = _classes(classes, classes_file)
        if synthesize is not None:
            with progress_bars() as progress:
                rep = synthesize_table(input, synthesize, text_column=text_column, label_column=label_column,
                                       classes=spec, force=force, report_path=report, progress=progress,
                                       fold_case=fold_case, **options)
            _print_rules(rep)
            cv = rep["synthesis"]["cv"]
            prec = "-" if cv["precision"] is None else f"{cv['precision']:.2f}"
            out.print(f"{len(rep['synthesis']['rules'])} keyword rules mined from {cv['n_labeled']} given labels; "
                      f"accuracy above is on the labels they were mined from (optimistic). Cross-validated: held-out "
                      f"votes right {prec} of the time, covering {cv['coverage']:.0%} of held-out texts.",
                      markup=False, soft_wrap=True)
            out.print(f"wrote {synthesize}" + (f", {report}" if report else ""), markup=False, soft_wrap=True)
            return
        with progress_bars() as progress:
            rep = rules_table(input, rules, text_column=text_column, label_column=label_column, classes=spec,
                              strict=strict, progress=progress, fold_case=fold_case)
        _print_rules(rep)
        for w in rep.get("warnings", []):
            _note(w)
        if report:
            write_json(rep, report)
            out.print(f"wrote {report}", markup=False)


from .loop.cli import register as _register_loop  # noqa: E402  (suggest, review, labels)

_register_loop(app, user_errors=user_errors, progress_bars=progress_bars, classes=_classes, out=out, err=err)


@app.command()
def predict(
    model_dir: Path = typer.Argument(..., help="Folder written by `fewlabels label --save-model`."),
    input: Path = typer.Argument(..., help="Table to label: .csv, .tsv, .jsonl or .parquet."),
    out_path: Path = typer.Option(..., "--out", "-o", help="Output table (format from its extension)."),
    text_column: str = typer.Option("text", help="Column holding the texts."),
    vectors: Optional[Path] = typer.Option(None, help="Precomputed embeddings (.npy) instead of texts."),
    vectors_column: Optional[str] = typer.Option(None, help="Column holding precomputed embeddings as lists."),
    encoder: Optional[Path] = typer.Option(None, help="Encoder folder (default: the one the model was trained with)."),
    encoder_backend: str = typer.Option("torch", "--encoder-backend", help=ENCODER_BACKEND_HELP),
    cache: Optional[Path] = typer.Option(None, help="Embedding cache database."),
    engine: str = typer.Option("local", help=ENGINE_HELP),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
):
    """Apply a saved end model to new rows."""
    with user_errors():
        from .embed import EmbeddingCache, use_backend
        from .engine import open_engine
        from .pipeline import predict_table

        with use_backend(encoder_backend), open_engine(engine, ray_address) as eng, progress_bars() as progress:
            P = predict_table(model_dir, input, out_path, text_column=text_column, vectors=vectors,
                              vectors_column=vectors_column, encoder_path=encoder,
                              cache=EmbeddingCache(cache) if cache else None, progress=progress, engine=eng)
        out.print(f"wrote {out_path} ({len(P)} rows)", soft_wrap=True)


@app.command()
def demo(
    out_dir: Path = typer.Option(Path("fewlabels-demo"), help="Folder for input.csv, labeled.csv and report.json."),
    labels: int = typer.Option(50, min=2, help="How many rows keep their label."),
    seed: int = typer.Option(0, help="Random seed for which rows keep their label."),
    cache: Optional[Path] = typer.Option(None, help="Embedding cache database."),
):
    """Run the whole path on the bundled SMS Spam sample (2,000 rows) with a few labels,
    and print the estimated accuracy next to the true accuracy."""
    with user_errors():
        from .demo import run_demo
        from .embed import EmbeddingCache

        with progress_bars() as progress:
            s = run_demo(out_dir, n_labels=labels, random_state=seed,
                         cache=EmbeddingCache(cache) if cache else None, progress=progress)
        _print_summary(s["report"])
        out.print(f"\nDemo: {s['rows']} SMS messages, {s['given_labels']} given labels, method {s['method']}")
        out.print(f"  estimated accuracy : {_fmt_est(s['estimated_accuracy'])}")
        out.print(f"  true accuracy      : {s['true_accuracy']:.3f}  (on the {s['rows'] - s['given_labels']} rows whose label was hidden)")
        out.print(f"  mean confidence    : {s['mean_confidence']:.3f}")
        out.print(f"  files in {s['out_dir']}/: input.csv, labeled.csv, report.json")


@app.command()
def discover(
    input: Path = typer.Argument(..., help="Labeled table, e.g. the output of `fewlabels label --unknown`."),
    out_path: Path = typer.Option(..., "--out", "-o", help="Classes file to write (edit it, then pass it to "
                                  "`fewlabels label --classes-file`)."),
    label_column: str = typer.Option("fewlabels_label", help="Column whose value marks the rows to explore."),
    unknown_value: str = typer.Option("unknown", help="Value of --label-column on the rows to explore."),
    text_column: str = typer.Option("text", help="Column holding the texts (keywords, typical rows)."),
    vectors: Optional[Path] = typer.Option(None, help="Precomputed embeddings (.npy, one row per table row)."),
    vectors_column: Optional[str] = typer.Option(None, help="Column holding precomputed embeddings as lists."),
    encoder: Optional[Path] = typer.Option(None, help="Local sentence-transformers folder."),
    encoder_backend: str = typer.Option("torch", "--encoder-backend", help=ENCODER_BACKEND_HELP),
    cache: Optional[Path] = typer.Option(None, help="Embedding cache database."),
    min_classes: int = typer.Option(2, min=2, help="Fewest new classes to consider."),
    max_classes: Optional[int] = typer.Option(None, min=2, help="Most new classes to consider [default: rows/10, "
                                              "at most 30]."),
    report: Optional[Path] = typer.Option(None, help="Write the proposals as JSON here."),
    seed: int = typer.Option(0, help="Random seed."),
):
    """Propose new classes among the rows no named class fits: cluster them, estimate how
    many classes they hold (silhouette), and name each from its distinguishing keywords."""
    with user_errors():
        from .discover import discover_table
        from .embed import EmbeddingCache, use_backend

        with use_backend(encoder_backend), progress_bars() as progress:
            res = discover_table(input, out_path, label_column=label_column, unknown_value=unknown_value,
                                 text_column=text_column, vectors=vectors, vectors_column=vectors_column,
                                 encoder_path=encoder, cache=EmbeddingCache(cache) if cache else None,
                                 k_min=min_classes, k_max=max_classes, random_state=seed, report_path=report,
                                 progress=progress)
        t = Table(title=f"{res.n_classes} new classes proposed ({len(res.labels)} rows)")
        for col in ("name", "rows", "keywords"):
            t.add_column(col)
        for c in res.classes:
            t.add_row(c.name, str(c.size), ", ".join(c.keywords))
        out.print(t)
        out.print(f"wrote {out_path}" + (f", {report}" if report else ""), markup=False, soft_wrap=True)


@app.command()
def methods():
    """List the labeling methods."""
    from .labelers.registry import GROUP_REGISTRY, REGISTRY, VOTE_REGISTRY

    t = Table("name", "needs", "what it does")
    for name, cls in {**REGISTRY, **VOTE_REGISTRY, **GROUP_REGISTRY}.items():
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        t.add_row(name, ", ".join(cls.needs) or "-", doc)
    out.print(t)


def version_callback(value: bool):
    if value:
        out.print(f"fewlabels {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                       help="Show the version and exit.")):
    """fewlabels: a calibrated label for every row from a few labels."""


from .cli_help import apply_help  # noqa: E402  (after every command: groups in --help, examples)

apply_help(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
