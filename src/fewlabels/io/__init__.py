"""Reading tables, labels, vectors and votes; writing outputs atomically.

Formats follow the file extension: ``.csv``, ``.tsv``, ``.jsonl`` (or ``.ndjson``),
``.parquet``. CSV and TSV columns are read as text (a UTF-8 byte-order mark is dropped
first), so every original value is written back exactly as it was. Row numbers in messages
count data rows from 1 (header excluded).

Labels are text in every format; :func:`read_labels` states the normalisation rules
(whitespace, null spellings, case, numbers).

One file per kind of input: :mod:`.tables` (tables and their columns), :mod:`.labels`
(given labels), :mod:`.vectors` (embedding vectors), :mod:`.votes` (a label matrix the user
brings, WRENCH's layout included), :mod:`.npy` (one array from a ``.npy`` file);
:mod:`.files` writes outputs atomically and compares paths.
"""

from __future__ import annotations

from .files import atomic_path, check_writable, json_text, same_file, write_json, write_table, write_table_to
from .labels import NULL_LABELS, label_column, read_labels
from .npy import load_npy
from .tables import FORMATS, delimiter_hint, read_table, require_column, table_format, text_column
from .vectors import check_vector_values, read_vectors, vectors_column
from .votes import (WRENCH_VOTES_COLUMN, check_vote_matrix, is_wrench, read_votes, read_wrench, votes_from_column,
                    wrench_classes)

__all__ = ["FORMATS", "NULL_LABELS", "WRENCH_VOTES_COLUMN", "atomic_path", "check_vector_values", "check_vote_matrix",
           "check_writable", "delimiter_hint", "is_wrench", "json_text", "label_column", "load_npy", "read_labels",
           "read_table", "read_vectors", "read_votes", "read_wrench", "require_column", "same_file", "table_format",
           "text_column", "vectors_column", "votes_from_column", "wrench_classes", "write_json", "write_table",
           "write_table_to"]
