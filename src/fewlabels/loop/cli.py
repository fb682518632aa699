"""The loop's commands (``suggest``, ``review``, ``labels import|export``), registered on the
main typer app by :func:`register`. Each parses options, makes one library call, prints."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer, *, user_errors, progress_bars, classes, out, err) -> None:
    """Add the loop's commands to ``app``."""

    pool_help = {
        "text_column": "Column holding the texts [default: text].",
        "label_column": "Column of given labels [default: 'label' if the table has it].",
        "labels_db": "Label store (SQLite); its labels join the table's.",
        "id_column": "Column of unique row ids, the rows' keys in the store [default: a hash of the text].",
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
            with progress_bars() as progress:
                rows = suggest_table(input, out_path, n=n, random_state=seed, progress=progress,
                                     text_column=text_column, label_column=label_column, classes=spec,
                                     vectors=vectors, vectors_column=vectors_column, encoder_path=encoder,
                                     cache=EmbeddingCache(cache) if cache else None, id_column=id_column,
                                     labels_db=labels_db)
            kinds = {}
            for r in rows:
                kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
            out.print(f"wrote {out_path}: {len(rows)} rows (" + ", ".join(f"{v} {k}" for k, v in kinds.items())
                      + ")", markup=False, soft_wrap=True)

    @app.command()
    def review(
        input: Path = typer.Argument(..., help="Table: .csv, .tsv, .jsonl or .parquet."),
        labels_db: Path = typer.Option(..., help="Label store (SQLite) where every answer is written at once."),
        n: int = typer.Option(50, "--n", min=1, help="How many suggested rows to review."),
        suspects: bool = typer.Option(False, help="Review the suspected label errors among the given labels "
                                      "first (needs labels of two classes)."),
        text_column: Optional[str] = typer.Option(None, help=pool_help["text_column"]),
        label_column: Optional[str] = typer.Option(None, help=pool_help["label_column"]),
        classes_: Optional[str] = typer.Option(None, "--classes", help="Class names, comma-separated."),
        classes_file: Optional[Path] = typer.Option(None, help="One class per line, optionally 'name: description'."),
        id_column: Optional[str] = typer.Option(None, help=pool_help["id_column"]),
        vectors: Optional[Path] = typer.Option(None, help="Precomputed embeddings (.npy, one row per table row)."),
        encoder: Optional[Path] = typer.Option(None, help="Local sentence-transformers folder."),
        cache: Optional[Path] = typer.Option(None, help="Embedding cache database."),
        port: int = typer.Option(0, min=0, max=65535, help="Port on 127.0.0.1 [default: a free one]."),
        open_browser: bool = typer.Option(True, "--open/--no-open", help="Open the page in a browser."),
        seed: int = typer.Option(0, help="Random seed for the suggestions."),
    ):
        """Label suggested rows in a local web page (127.0.0.1, private link).

        Keys 1-9 pick a class (the top guesses when there are more than 9 classes; type to
        filter them), Enter takes the first, s or the right arrow skips, u or Ctrl+Z undoes.
        The guesses are refit every 10 answers; "next batch" adds rows without a restart.
        Every answer is in the store at once (or refused on the page); stop with Ctrl-C."""
        with user_errors():
            from ..embed import EmbeddingCache
            from .review.server import prepare_session, serve

            spec = classes(classes_, classes_file)
            with progress_bars() as progress:
                session = prepare_session(input, labels_db, n=n, suspects=suspects, random_state=seed,
                                          progress=progress, text_column=text_column, label_column=label_column,
                                          classes=spec, vectors=vectors, encoder_path=encoder,
                                          cache=EmbeddingCache(cache) if cache else None, id_column=id_column)
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

    labels_app = typer.Typer(help="Move labels between the label store and files (CSV, Label Studio JSON).",
                             no_args_is_help=True)
    app.add_typer(labels_app, name="labels")

    @labels_app.command("import")
    def labels_import(
        file: Path = typer.Argument(..., help="A .csv with columns key,label, or a Label Studio JSON export."),
        labels_db: Path = typer.Option(..., help="Label store (SQLite; created if missing)."),
        id_field: Optional[str] = typer.Option(None, help="Label Studio: the data field holding the row id "
                                               "(the --id-column you label with) [default: hash of data.text]."),
    ):
        """Add labels from a file to the store (source 'import')."""
        with user_errors():
            from .store import LabelStore

            with LabelStore(labels_db) as store:
                k = store.import_file(file, id_field=id_field)
            out.print(f"imported {k} labels into {labels_db}", markup=False, soft_wrap=True)

    @labels_app.command("export")
    def labels_export(
        out_path: Path = typer.Option(..., "--out", "-o", help="A .csv (key,label,source,time) or a .json "
                                      "(Label Studio tasks)."),
        labels_db: Path = typer.Option(..., help="Label store (SQLite)."),
        table: Optional[Path] = typer.Option(None, help="Table the keys come from, to put each row's text in the "
                                             "Label Studio tasks."),
        text_column: str = typer.Option("text", help="With --table: column holding the texts."),
        id_column: Optional[str] = typer.Option(None, help="With --table: " + pool_help["id_column"]),
    ):
        """Write the store's current labels to a file."""
        with user_errors():
            from ..errors import InputError
            from .store import LabelStore, row_keys

            if not Path(labels_db).is_file():
                raise InputError(f"{labels_db}: no such label store; check the path")
            suffix = out_path.suffix.lower()
            if suffix not in (".csv", ".json"):
                raise InputError(f"{out_path}: export writes a .csv or a Label Studio .json; give one of those")
            with LabelStore(labels_db) as store:
                if suffix == ".csv":
                    k = store.export_csv(out_path)
                else:
                    texts = None
                    if table is not None:
                        from ..io import read_table, text_column as read_texts

                        t = read_table(table)
                        tx = read_texts(t, text_column, table)
                        texts = dict(zip(row_keys(t, id_column=id_column, texts=tx, path=table), tx))
                    k = store.export_label_studio(out_path, texts)
            out.print(f"wrote {k} labels to {out_path}", markup=False, soft_wrap=True)
