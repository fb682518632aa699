"""The loop's commands (``suggest``, ``review``, ``labels import|export``), registered on the
main typer app by :func:`register`. Each parses options, makes one library call, prints."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer, *, user_errors, progress_bars, classes, out, err) -> None:
    """Add the loop's commands to ``app``."""

    def note(line: str) -> None:
        err.print("[yellow]note:[/] ", end="", highlight=False)
        err.print(line, markup=False, highlight=False, soft_wrap=True)

    pool_help = {
        "text_column": "Column holding the texts [default: text].",
        "label_column": "Column of given labels [default: 'label' if the table has it].",
        "labels_db": "Label store (SQLite); its labels join the table's.",
        "id_column": "Column of unique row ids, the rows' keys in the store; use the same on every command "
                     "[default: the column the store recorded, else a hash of the text, with a warning].",
    }

    @app.command()
    def suggest(
        input: Path = typer.Argument(..., help="Table: .csv, .tsv, .jsonl or .parquet."),
        out_path: Path = typer.Option(..., "--out", "-o", help="Table of the suggested rows, best first."),
        n: int = typer.Option(50, "--n", min=1, help="How many rows to suggest."),
        text_column: Optional[str] = typer.Option(None, help=pool_help["text_column"]),
        label_column: Optional[str] = typer.Option(None, help=pool_help["label_column"]),
        classes_: Optional[str] = typer.Option(None, "--classes", help="Class names, comma-separated."),
        classes_file: Optional[Path] = typer.Option(None, help="One class per line, optionally 'name: description'."),
        labels_db: Optional[Path] = typer.Option(None, help=pool_help["labels_db"]),
        id_column: Optional[str] = typer.Option(None, help=pool_help["id_column"]),
        vectors: Optional[Path] = typer.Option(None, help="Precomputed embeddings (.npy, one row per table row)."),
        vectors_column: Optional[str] = typer.Option(None, help="Column holding precomputed embeddings as lists."),
        encoder: Optional[Path] = typer.Option(None, help="Local sentence-transformers folder."),
        cache: Optional[Path] = typer.Option(None, help="Embedding cache database."),
        seed: int = typer.Option(0, help="Random seed; the same seed gives the same rows."),
    ):
        """Write the rows most worth labeling next, each with its reason.

        With no label yet: typical rows of different clusters (TypiClust). With labels: a
        row for each class with no label, then clusters with no label, then uncertain rows
        in dense regions; never two near-duplicates."""
        with user_errors():
            from ..embed import EmbeddingCache
            from .tables import suggest_table

            spec = classes(classes_, classes_file)
            notes: list[str] = []
            with progress_bars() as progress:
                rows = suggest_table(input, out_path, n=n, random_state=seed, progress=progress,
                                     text_column=text_column, label_column=label_column, classes=spec,
                                     vectors=vectors, vectors_column=vectors_column, encoder_path=encoder,
                                     cache=EmbeddingCache(cache) if cache else None, id_column=id_column,
                                     labels_db=labels_db, notes=notes)
            for line in notes:
                note(line)
            kinds = {}
            for r in rows:
                kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
            out.print(f"wrote {out_path}: {len(rows)} rows (" + ", ".join(f"{v} {k}" for k, v in kinds.items())
                      + ")", markup=False, soft_wrap=True)

    @app.command()
    def review(
        input: Path = typer.Argument(..., help="Table: .csv, .tsv, .jsonl or .parquet."),
        labels_db: Path = typer.Option(..., help="Label store (SQLite; created on the first run) where every answer "
                                       "is written at once."),
        suggestions: Optional[Path] = typer.Option(None, help="The file `fewlabels suggest --out` wrote: review "
                                                   "its rows, in its order (same table, same --id-column)."),
        n: int = typer.Option(50, "--n", min=1, help="Without --suggestions: how many rows to suggest and review."),
        suspects: bool = typer.Option(False, help="Review the suspected label errors among the given labels "
                                      "first (needs labels of two classes)."),
        text_column: Optional[str] = typer.Option(None, help=pool_help["text_column"]),
        label_column: Optional[str] = typer.Option(None, help=pool_help["label_column"]),
        classes_: Optional[str] = typer.Option(None, "--classes", help="Class names, comma-separated [default: the "
                                               "classes the store recorded, and the labels']."),
        classes_file: Optional[Path] = typer.Option(None, help="One class per line, optionally 'name: description'."),
        id_column: Optional[str] = typer.Option(None, help=pool_help["id_column"]),
        vectors: Optional[Path] = typer.Option(None, help="Precomputed embeddings (.npy, one row per table row)."),
        encoder: Optional[Path] = typer.Option(None, help="Local sentence-transformers folder."),
        cache: Optional[Path] = typer.Option(None, help="Embedding cache database."),
        port: int = typer.Option(0, min=0, max=65535, help="Port on 127.0.0.1 [default: a free one]."),
        open_browser: bool = typer.Option(True, "--open/--no-open", help="Open the page in a browser."),
        serve_page: bool = typer.Option(True, "--serve/--no-serve", help="--no-serve: prepare the rows and the "
                                        "store, print what would be reviewed, and stop (checks a command)."),
        seed: int = typer.Option(0, help="Random seed for the suggestions."),
    ):
        """Label suggested rows in a local web page (127.0.0.1, private link).

        Keys 1-9 pick a class (the top guesses when there are more than 9 classes; type to
        filter them), Enter takes the first, s or the right arrow skips, u or Ctrl+Z undoes.
        The guesses are refit every 10 answers; "next batch" adds rows without a restart.
        Every answer is in the store at once (or refused on the page); stop with Ctrl-C.
        The store records the classes and the id column, so later commands (label,
        review --suspects, labels export) use the same ones."""
        with user_errors():
            from ..embed import EmbeddingCache
            from ..pipeline import check_outputs
            from .keys import recorded_id_column
            from .review.server import prepare_session, serve
            from .store import LabelStore

            check_outputs(input, reads={"--suggestions": suggestions, "--vectors": vectors,
                                        "--classes-file": classes_file}, stores={"--labels-db": labels_db})
            spec = classes(classes_, classes_file)
            id_column = id_column if id_column is not None else recorded_id_column(labels_db)
            notes: list[str] = []
            with progress_bars() as progress:
                session = prepare_session(input, labels_db, n=n, suspects=suspects, random_state=seed,
                                          progress=progress, text_column=text_column, label_column=label_column,
                                          classes=spec, vectors=vectors, encoder_path=encoder,
                                          cache=EmbeddingCache(cache) if cache else None, id_column=id_column,
                                          notes=notes, suggestions=suggestions)
            for line in notes:
                note(line)
            with LabelStore(labels_db) as store:  # created here, once everything above worked
                store.record_loop(id_column=id_column, classes=session.classes)
            if not serve_page:
                out.print(_prepared(session, input, labels_db), markup=False, soft_wrap=True)
                return
            server = serve(session, port=port)
            out.print(f"review {len(session.items)} rows of {input} at\n  {server.url}\nanswers go to "
                      f"{labels_db}; Ctrl-C to stop", markup=False, soft_wrap=True)
            if open_browser:
                import webbrowser

                webbrowser.open(server.url)
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                err.print(server.summary(), markup=False, soft_wrap=True)
            finally:
                server.server_close()

    @app.command()
    def audit(
        input: Path = typer.Argument(..., help="Table: .csv, .tsv, .jsonl or .parquet."),
        out_path: Path = typer.Option(..., "--out", "-o", help="Audit file to write, then fill: the drawn rows "
                                      "with fewlabels_key and an empty label column."),
        n: int = typer.Option(50, "--n", help="How many rows to draw (50: within 2-6 points on average, the "
                              "less the higher the accuracy)."),
        text_column: Optional[str] = typer.Option(None, help=pool_help["text_column"]),
        label_column: Optional[str] = typer.Option(None, help="Column of given labels, and the audit file's column "
                                                   "to fill [default: label]."),
        id_column: Optional[str] = typer.Option(None, help=pool_help["id_column"]),
        labels_db: Optional[Path] = typer.Option(None, help="Label store; rows labeled there count as given."),
        seed: int = typer.Option(0, help="Random seed; the same seed draws the same rows."),
        force: bool = typer.Option(False, help="Replace --out if it exists."),
    ):
        """Draw rows uniformly at random from those without a given label, for a person to label.

        Fill the label column of the file, then pass it to `fewlabels label --audit FILE`:
        those labels only measure (they never train), and the report's accuracy estimate
        becomes a verified one with a 95% interval."""
        with user_errors():
            from ..validation import check_random_state
            from .tables import audit_table

            check_random_state(seed)
            info = audit_table(input, out_path, n=n, random_state=seed, id_column=id_column,
                               label_column=label_column, text_column=text_column, labels_db=labels_db, force=force)
            out.print(f"wrote {out_path}: {len(info['rows'])} rows drawn at random from the {info['pool']} rows "
                      f"without a given label. Fill its column {info['label_column']!r}, then run `fewlabels label "
                      f"... --audit {out_path}`", markup=False, soft_wrap=True)

    labels_app = typer.Typer(help="Move labels between the label store and files (CSV, Label Studio JSON).",
                             no_args_is_help=True)
    app.add_typer(labels_app, name="labels")

    @labels_app.command("import")
    def labels_import(
        file: Path = typer.Argument(..., help="A .csv with columns key,label, or a Label Studio JSON export."),
        labels_db: Path = typer.Option(..., help="Label store (SQLite; created if missing)."),
        id_field: Optional[str] = typer.Option(None, help="Label Studio: the data field holding the row id "
                                               "(the --id-column you label with) [default: data.fewlabels_key, "
                                               "else a hash of data.text]."),
        as_audit: bool = typer.Option(False, "--audit", help="Record them as audit labels (source 'audit'): "
                                      "`fewlabels label --labels-db` uses them only to verify the estimate."),
    ):
        """Add labels from a file to the store (source 'import', or 'audit' with --audit).

        Example: fewlabels labels import project-1.json --labels-db labels.sqlite"""
        with user_errors():
            from ..outputs import check_paths
            from .store import LabelStore, read_label_file

            check_paths({"input": file}, {}, {"--labels-db": labels_db})
            items = read_label_file(file, id_field=id_field)  # the whole file, before the store is touched
            with LabelStore(labels_db) as store:
                k = store.set_many(items, source="audit" if as_audit else "import") if items else 0
            out.print(f"imported {k} labels into {labels_db}", markup=False, soft_wrap=True)

    @labels_app.command("export")
    def labels_export(
        out_path: Path = typer.Option(..., "--out", "-o", help="A .csv (key,label,source,time) or a .json "
                                      "(Label Studio tasks, with a labeling config beside it)."),
        labels_db: Path = typer.Option(..., help="Label store (SQLite)."),
        table: Optional[Path] = typer.Option(None, help="The table the labels were made on: each task's text "
                                             "(needed for a .json)."),
        config_out: Optional[Path] = typer.Option(None, help="With a .json: the Label Studio labeling config "
                                                  "(XML) to import the tasks with [default: --out with .xml]."),
        text_column: str = typer.Option("text", help="With --table: column holding the texts."),
        id_column: Optional[str] = typer.Option(None, help="With --table: " + pool_help["id_column"]),
    ):
        """Write the store's current labels to a file.

        Example: fewlabels labels export --labels-db labels.sqlite --table tickets.csv --out labels.json
        (writes labels.json and labels.xml: in Label Studio, paste the XML as the labeling
        config, then import the JSON)."""
        with user_errors():
            from ..errors import InputError
            from ..outputs import check_paths
            from .store import LabelStore

            suffix = out_path.suffix.lower()
            if suffix not in (".csv", ".json"):
                raise InputError(f"{out_path}: export writes a .csv or a Label Studio .json; give one of those")
            if suffix == ".json" and config_out is None:
                config_out = out_path.with_suffix(".xml")
            if suffix == ".csv":
                config_out = None
            check_paths({"--table": table}, {"--out": out_path, "--config-out": config_out},
                        {"--labels-db": labels_db})
            if suffix == ".json" and table is None:
                raise InputError(f"{out_path}: Label Studio tasks need each row's text; pass --table, the table the "
                                 "labels were made on")
            with LabelStore(labels_db, create=False) as store:
                if suffix == ".csv":
                    k = store.export_csv(out_path)
                else:
                    from .keys import join_store

                    join = join_store(_read(table), table, text_column=text_column, label_column=None,
                                      id_column=id_column, labels_db=labels_db)
                    if join.texts is None:
                        raise InputError(f"{table}: no column {text_column!r} of texts; pass --text-column")
                    for line in join.notes:
                        note(line)
                    texts = dict(zip(join.keys, join.texts))
                    k, _ = store.export_label_studio(out_path, texts, classes=store.recorded_classes(),
                                                     config_path=config_out)
            out.print(f"wrote {k} labels to {out_path}" + (f" and the labeling config to {config_out}"
                                                           if config_out else ""), markup=False, soft_wrap=True)

    def _read(path):
        from ..io import read_table

        return read_table(path)


def _prepared(session, input, labels_db) -> str:
    """What ``review --no-serve`` prints: the rows it would show, by kind, and the classes."""
    kinds: dict = {}
    for it in session.items:
        kinds[it.get("kind", "row")] = kinds.get(it.get("kind", "row"), 0) + 1
    return (f"review {len(session.items)} rows of {input} (" + ", ".join(f"{v} {k}" for k, v in kinds.items())
            + f"), classes {', '.join(session.classes)}; store {labels_db}; not served (--no-serve)")
