"""Make (or check) the golden runs of ``tests/test_golden.py``.

    python tests/golden/make_golden.py            # write tests/golden/inputs/* and golden.json
    python tests/golden/make_golden.py --check    # recompute and diff against golden.json (exact)

Six runs at a fixed seed, each through the CLI's own path (``label_with_store``), on 300
real SMS messages from the bundled demo table. The vectors of the first five are the
packaged MiniLM's, computed once and stored (``inputs/sms300.npy``), so those runs do not
depend on the encoder's numerics; the sixth fine-tunes the real encoder on 60 rows.

A golden file is refreshed only in a commit that says which behaviour changed on purpose.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs"
GOLDEN = HERE / "golden.json"

#: report keys whose values are not behaviour (time, paths, versions, the machine)
SKIP_KEYS = {"timings_s", "seconds", "fewlabels_version", "input", "output", "file", "encoder_dir", "encoder_id",
             "device", "slowest", "proportions_file", "estimated_seconds", "html", "trained_on", "store", "labels_db", "cache"}

RULES_TOML = """\
[spam]
keywords = ["free", "claim", "prize", "txt", "win", "urgent", "mobile"]

[ham]
keywords = ["lol", "ok", "home", "later", "love", "sorry"]
"""

TINY_FT = dict(steps=6, fold_steps=3, batch_classes=2, per_class=4, pseudo_per_class=4, sub_pool=20, n_splits=3)


def make_inputs() -> None:
    """The input files: 300 demo rows (first 300 of the bundled table), their vectors, rules,
    votes, bags and proportions. Run once; the files are committed."""
    from fewlabels.demo import demo_data_path
    from fewlabels.embed import embed_texts
    from fewlabels.io import read_table
    from fewlabels.pipeline import load_encoder

    INPUTS.mkdir(parents=True, exist_ok=True)
    table = read_table(demo_data_path())
    texts = table.column("text").to_pylist()[:300]
    truth = table.column("label").to_pylist()[:300]
    X = embed_texts(texts, load_encoder(), None)
    np.save(INPUTS / "sms300.npy", X.astype(np.float32))
    (INPUTS / "sms300_truth.json").write_text(json.dumps({"text": texts, "label": truth}))
    (INPUTS / "rules.toml").write_text(RULES_TOML)
    rng = np.random.default_rng(0)
    code = np.array([0 if t == "ham" else 1 for t in truth])
    votes = np.full((300, 3), -1, dtype=np.int64)  # three noisy voters with known accuracy
    for j, (cov, acc) in enumerate(((0.6, 0.9), (0.4, 0.8), (0.3, 0.7))):
        on = rng.random(300) < cov
        right = rng.random(300) < acc
        votes[on, j] = np.where(right[on], code[on], 1 - code[on])
    np.save(INPUTS / "votes.npy", votes)


def _write_tables(tmp: Path) -> dict:
    """Per case, the table to label (written under ``tmp``) and its CLI-path options."""
    import pyarrow as pa

    from fewlabels.io import write_table

    data = json.loads((INPUTS / "sms300_truth.json").read_text())
    texts, truth = data["text"], np.array(data["label"], dtype=object)
    n = len(texts)
    vec = INPUTS / "sms300.npy"
    rng = np.random.default_rng(1)
    given = np.full(n, "", dtype=object)
    for c in ("ham", "spam"):
        given[rng.choice(np.flatnonzero(truth == c), 15, replace=False)] = c
    cases = {}

    def table(name, **cols):
        path = tmp / f"{name}.csv"
        write_table(pa.table({"text": texts, **cols}), path)
        return path

    cases["plain"] = (table("plain", label=given.tolist()), dict(vectors=vec))
    cases["rules_0_labels"] = (table("rules0", label=[""] * n),
                               dict(vectors=vec, rules=INPUTS / "rules.toml", classes=("ham", "spam")))
    few = np.where(np.arange(n) % 2 == 0, given, "")
    cases["votes"] = (table("votes", label=few.tolist()), dict(vectors=vec, votes=INPUTS / "votes.npy",
                                                               classes=("ham", "spam")))
    unk = given.copy()
    unk[[3, 50, 120, 200]] = "unknown"
    cases["unknown"] = (table("unknown", label=unk.tolist()), dict(vectors=vec, unknown=True))
    bags = [f"b{i // 20}" for i in range(n)]
    rows = []
    for b in sorted(set(bags), key=lambda s: int(s[1:])):
        idx = [i for i in range(n) if bags[i] == b]
        share = float(np.mean(truth[idx] == "spam"))
        rows += [f"{b},spam,{share:.4f}", f"{b},ham,{1 - share:.4f}"]
    prop = tmp / "proportions.csv"
    prop.write_text("bag,class,share\n" + "\n".join(rows) + "\n")
    cases["proportions"] = (table("bags", bag=bags), dict(vectors=vec, bag_column="bag", proportions=prop,
                                                          classes=("ham", "spam")))
    ft_rows = list(range(60))
    ft_given = np.where(np.isin(np.arange(60), np.r_[np.flatnonzero(truth[:60] == "ham")[:8],
                                                        np.flatnonzero(truth[:60] == "spam")[:8]]),
                        truth[:60], "")
    path = tmp / "ft.csv"
    write_table(pa.table({"text": [texts[i] for i in ft_rows], "label": ft_given.tolist()}), path)
    cases["finetune"] = (path, dict(finetune="always", n_splits=3))
    return cases


def run_case(name: str, tmp: Path) -> dict:
    """One golden run: the output table's new columns and the report's behaviour numbers."""
    from fewlabels.classes import ClassSpec
    from fewlabels.embed import EmbeddingCache
    from fewlabels.embed.finetune import FineTuneParams
    from fewlabels.io import read_table
    from fewlabels.loop.tables import label_with_store

    path, opts = _write_tables(tmp)[name]
    opts = dict(opts)
    if "classes" in opts:
        opts["classes"] = ClassSpec(list(opts["classes"]), {})
    opts.setdefault("finetune", "auto")  # the CLI's default
    if name == "finetune":
        opts.update(finetune_params=FineTuneParams(**TINY_FT), model_cache=tmp / "models")
    out, report = tmp / f"{name}.out.csv", tmp / f"{name}.report.json"
    label_with_store(path, out, cache=EmbeddingCache(tmp / "emb.sqlite"), report_path=report, random_state=0,
                     **opts)
    table = read_table(out)
    cols = {c: table.column(c).to_pylist() for c in table.column_names if c.startswith("fewlabels_")}
    text = report.read_text().replace(json.dumps(str(tmp))[1:-1], "TMP")  # paths of this run (in commands shown)
    return {"columns": cols, "report": flatten(json.loads(text))}


def flatten(obj, prefix: str = "") -> dict:
    """{dotted key: leaf} of a JSON object, without the keys of :data:`SKIP_KEYS`."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in SKIP_KEYS:
                continue
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}{i}."))
    else:
        out[prefix[:-1]] = obj
    return out


CASES = ("plain", "rules_0_labels", "votes", "unknown", "proportions", "finetune")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with golden.json instead of writing it")
    ap.add_argument("--inputs", action="store_true", help="(re)make the input files first")
    args = ap.parse_args()
    if args.inputs or not (INPUTS / "sms300.npy").is_file():
        make_inputs()
    results = {}
    for name in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            results[name] = run_case(name, Path(tmp))
    text = json.dumps(results, indent=1, sort_keys=True) + "\n"
    if args.check:
        same = GOLDEN.read_text() == text
        print("byte-identical" if same else "DIFFERENT")
        if not same:
            (HERE / "golden.new.json").write_text(text)
            print(f"new results in {HERE / 'golden.new.json'}")
        return 0 if same else 1
    GOLDEN.write_text(text)
    print(f"wrote {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent / "src"))
    raise SystemExit(main())
