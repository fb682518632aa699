"""Step: the output table, the model folder and the report, written all or nothing (write);
and the guard that checks every path before any work.

Cost: O(n) to add the columns, then writing the table; the model folder and the report are
small.
"""

from __future__ import annotations

from os import PathLike

import numpy as np

from ..errors import InputError
from ..options import InputOptions, OutputOptions

OUTPUT_COLUMNS = ("fewlabels_label", "fewlabels_confidence", "fewlabels_source")


def check_run(input_path, out_path, inp: InputOptions, outo: OutputOptions, random_state) -> None:
    """Fail before any work on a bad seed or a path the run must not write (:func:`check_outputs`)."""
    from ..validation import check_random_state

    check_random_state(random_state)
    check_outputs(input_path, out_path=out_path, report_path=outo.report_path, save_model=outo.save_model,
                  reads={"--rules": inp.rules, "--vectors": inp.vectors, "--encoder": inp.encoder_path,
                         "--votes": inp.votes, "--proportions": inp.proportions},
                  stores={"--cache": getattr(inp.cache, "path", None)})


def output_table(table, result, names, y, extra_columns, input_path):
    """The table with ``fewlabels_label``, ``fewlabels_confidence``, ``fewlabels_source`` and
    the ``extra_columns(result, y)`` added after them (``names``: the label of each code)."""
    import pyarrow as pa

    names = np.asarray(names, dtype=object)
    out = table
    out = out.append_column(OUTPUT_COLUMNS[0], pa.array(names[result.labels].tolist(), pa.string()))
    out = out.append_column(OUTPUT_COLUMNS[1], pa.array(np.round(result.confidence, 6), pa.float64()))
    out = out.append_column(OUTPUT_COLUMNS[2], pa.array(result.source.tolist(), pa.string()))
    for name, values in (extra_columns(result, y) if extra_columns else {}).items():
        if name in table.column_names:
            raise InputError(f"{input_path}: already has column {name}; rename or drop it first")
        out = out.append_column(name, values)
    return out


def write_outputs(result, out, out_path, input_path, outo: OutputOptions, encoder, *, info: dict, timings: dict,
                  clock, outputs=None) -> None:
    """Stage the model folder and the table, fill the report (``info``: its keys on the input,
    then ``timings_s``), and commit them with the report: all, or none. ``outputs`` (a
    :class:`fewlabels.outputs.Outputs`): stage into a caller's commit instead. ``clock``: the
    timer started when the output table began (:func:`~fewlabels.steps.choose.timer`)."""
    from ..outputs import Outputs

    outs = outputs if outputs is not None else Outputs()
    try:
        if outo.save_model is not None and result.end_model is not None:
            meta = {"encoder": None if encoder is None else str(encoder.path),
                    "encoder_id": None if encoder is None else encoder.id,
                    "trained_on": str(input_path),
                    "method": result.method}
            outs.folder(outo.save_model, "--save-model", lambda tmp: result.end_model.save_files(tmp, meta))
        outs.table(out, out_path, "--out")
    except BaseException:
        outs.discard()
        raise
    timings["write"] = clock()
    result.report.update(info)
    result.report["timings_s"] = timings
    with outs if outputs is None else _staged_only(outs):  # the commit: all outputs, or none
        if outo.report_path is not None:
            outs.json(result.report, outo.report_path, "--report")


class _staged_only:
    """Stage into a caller's :class:`~fewlabels.outputs.Outputs` without committing it."""

    def __init__(self, outs):
        self.outs = outs

    def __enter__(self):
        return self.outs

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.outs.discard()
        return False


def check_outputs(input_path, *, reads: dict | None = None, stores: dict | None = None, **outputs) -> None:
    """Fail before any work if a run would change a file it must not (the output guard,
    :func:`fewlabels.outputs.check_paths`): an output is the input or another file read
    (``reads``: option → path, e.g. ``{"--rules": path}``), a store (``stores``:
    ``{"--cache": path}``) or another output, an output format is unknown, or an output
    cannot be written. ``outputs``: keyword → path (``out_path`` is ``--out``,
    ``save_model`` is ``--save-model``)."""
    from ..io import table_format
    from ..outputs import check_paths

    if not isinstance(input_path, (str, PathLike)):  # e.g. a DataFrame: fewlabels.label takes those
        raise InputError(f"the input must be the path of a table file; got a {type(input_path).__name__}. For a pandas "
                         "DataFrame or a pyarrow Table, call fewlabels.label(data, ...), which returns a DataFrame")
    given = {"--" + k.replace("_path", "").replace("_", "-"): v for k, v in outputs.items() if v is not None}
    check_paths({"input": input_path, **(reads or {})}, given, stores)
    if "--out" in given:
        table_format(given["--out"])
