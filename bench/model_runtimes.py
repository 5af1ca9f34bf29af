"""Compare inference runtimes for the trained fraud model, one row and 100 rows at a time.

The model is the one the behavioural tests judge (tests/model/trained_model.py: the pinned
history, the production hyperparameters, 250 trees), and the rows are its holdout transactions
joined with their point-in-time features. Everything runs on one thread, as the served model
does (`OMP_NUM_THREADS=1`).

Two groups, each timed for 1 and 100 rows (p50 and p99 over `--repeats` calls):

* classifier: the encoded float64 matrix in, probabilities out: scikit-learn's
  `predict_proba`, Treelite's GTIL (`treelite.sklearn.import_model` + `treelite.gtil.predict`)
  and, when skl2onnx and onnxruntime are importable, onnxruntime on skl2onnx's conversion
  (they are not project dependencies: `pip install skl2onnx==1.20.0 onnxruntime==1.32.0`);
* whole model: plain request-plus-feature rows in: the DataFrame path
  (`FraudModel.score`: model_frame, ColumnTransformer, predict_proba) against the serving path
  (`FraudModel.encoded_inputs` + the compiled trees).

`× sklearn` divides a runtime's p50 by scikit-learn's in the same group and row count. `max
|Δp|` is the largest probability difference from scikit-learn over the holdout, the holdout
with a third of its values set missing, and the packaging parity rows (`serving.parity`); a
runtime whose conversion fails says why instead.

Run: `.venv/bin/python bench/model_runtimes.py [--repeats 2000] [--out artifacts/bench]`;
figures are printed and written to `<out>/model_runtimes.json`.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "model"))
from trained_model import one_openmp_thread, train_once

from fraud_detection.serving import parity
from fraud_detection.serving.compiled import CompiledModel
from fraud_detection.training.model import FraudModel

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "artifacts" / "bench"
BATCHES = (1, 100)
console = Console(highlight=False)
Predict = Callable[[np.ndarray], np.ndarray]


@dataclass
class Measured:
    group: str
    runtime: str
    max_abs_diff: float | None
    note: str
    p50_ms: dict[int, float]
    p99_ms: dict[int, float]


def latencies(call: Callable[[int], object], repeats: int) -> dict[str, dict[int, float]]:
    """p50 and p99 milliseconds of `call(n)` for each batch size n, after a warm-up."""
    found: dict[str, dict[int, float]] = {"p50_ms": {}, "p99_ms": {}}
    for n in BATCHES:
        for _ in range(min(50, repeats)):
            call(n)
        laps = []
        for _ in range(repeats):
            started = time.perf_counter()
            call(n)
            laps.append((time.perf_counter() - started) * 1000)
        found["p50_ms"][n] = float(np.percentile(laps, 50))
        found["p99_ms"][n] = float(np.percentile(laps, 99))
    return found


def first_rows(predict: Predict, matrix: np.ndarray, n: int) -> np.ndarray:
    return predict(matrix[:n])


def onnx_runtime(model: FraudModel) -> tuple[Predict | None, str]:
    """onnxruntime on skl2onnx's conversion of the classifier, or None and the reason."""
    try:
        import onnxruntime  # type: ignore[import-not-found, unused-ignore]
        import skl2onnx  # type: ignore[import-not-found, unused-ignore]
        from skl2onnx.common.data_types import (  # type: ignore[import-not-found, unused-ignore]
            DoubleTensorType,
            FloatTensorType,
        )
    except ImportError as exc:
        return None, f"not installed ({exc.name})"
    classifier = model.pipeline[-1]
    width = int(classifier.n_features_in_)
    options = {id(classifier): {"zipmap": False}}
    versions = f"skl2onnx {skl2onnx.__version__}, onnxruntime {onnxruntime.__version__}"
    session_options = onnxruntime.SessionOptions()
    session_options.intra_op_num_threads = 1
    failures = []
    for tensor, dtype in ((DoubleTensorType, np.float64), (FloatTensorType, np.float32)):
        try:
            graph = skl2onnx.convert_sklearn(
                classifier, initial_types=[("X", tensor([None, width]))], options=options
            )
            session = onnxruntime.InferenceSession(
                graph.SerializeToString(), session_options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # a conversion or load failure is the finding
            failures.append(f"{np.dtype(dtype).name}: {type(exc).__name__}: {str(exc)[:160]}")
            continue

        def predict(inputs: np.ndarray, session: Any = session, dtype: Any = dtype) -> np.ndarray:
            probabilities: np.ndarray = session.run(None, {"X": inputs.astype(dtype)})[1][:, 1]
            return probabilities

        return predict, "; ".join([versions, f"{np.dtype(dtype).name} inputs", *failures])
    return None, "; ".join([versions, *failures])


def max_difference(predict: Predict, model: FraudModel, matrices: list[np.ndarray]) -> float:
    return max(float(np.max(np.abs(predict(m) - model.score_encoded(m)))) for m in matrices)


def measure(repeats: int) -> tuple[list[Measured], dict[str, Any]]:
    trained = train_once()
    model = trained.model
    holdout = trained.split.holdout
    rows: list[dict[str, Any]] = holdout.to_dict(orient="records")
    rows = [{k: (None if v is None or v != v else v) for k, v in r.items()} for r in rows]
    matrix = model.encoded_inputs(rows)
    gappy = matrix.copy()
    gappy[np.random.default_rng(0).random(gappy.shape) < 1 / 3] = np.nan
    parity_matrix = model.encoded_inputs(parity.parity_rows(model, 10_000, parity.PARITY_SEED))
    matrices = [matrix, gappy, parity_matrix]

    started = time.perf_counter()
    compiled = CompiledModel.convert(model)
    convert_ms = (time.perf_counter() - started) * 1000
    onnx_predict, onnx_note = onnx_runtime(model)
    classifiers: list[tuple[str, Predict | None, str]] = [
        ("scikit-learn", model.score_encoded, "HistGradientBoostingClassifier.predict_proba"),
        ("treelite", compiled.predict, f"GTIL, converted in {convert_ms:.0f} ms"),
        ("onnxruntime", onnx_predict, onnx_note),
    ]
    results = []
    for name, predict, note in classifiers:
        if predict is None:
            results.append(Measured("classifier", name, None, note, {}, {}))
            continue
        difference = max_difference(predict, model, matrices)
        timings = latencies(partial(first_rows, predict, matrix), repeats)
        results.append(Measured("classifier", name, difference, note, **timings))

    frames = {n: pd.DataFrame(rows[:n]) for n in BATCHES}
    paths: list[tuple[str, Callable[[int], object], str]] = [
        ("DataFrame", lambda n: model.score(frames[n]), "model_frame + pipeline.predict_proba"),
        (
            "rows + treelite",
            lambda n: compiled.predict(model.encoded_inputs(rows[:n])),
            "encoded_inputs + compiled trees",
        ),
    ]
    served = compiled.predict(model.encoded_inputs(rows))
    whole_diff = float(np.max(np.abs(served - model.score(pd.DataFrame(rows)))))
    for name, call, note in paths:
        difference = 0.0 if name == "DataFrame" else whole_diff
        results.append(Measured("whole model", name, difference, note, **latencies(call, repeats)))
    classifier = model.pipeline[-1]
    context = {
        "trees": int(classifier.n_iter_),
        # Splits on merchant_category, where skl2onnx's conversion goes wrong.
        "categorical_splits": sum(
            int(tree.nodes["is_categorical"][tree.nodes["is_leaf"] == 0].sum())
            for iteration in classifier._predictors
            for tree in iteration
        ),
        "holdout_rows": len(rows),
        "repeats": repeats,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    return results, context


def show(results: list[Measured], context: dict[str, Any]) -> None:
    title = (
        f"Inference runtimes, {context['trees']} trees ({context['categorical_splits']} "
        "categorical splits), one thread (ms)"
    )
    table = Table(title=title)
    for column in ("group", "runtime", "max |Δp|"):
        table.add_column(column)
    for n in BATCHES:
        for column in (f"p50 {n}", f"p99 {n}", f"× sklearn {n}"):
            table.add_column(column, justify="right")
    baseline = {r.group: r for r in results if r.runtime in ("scikit-learn", "DataFrame")}
    for r in results:
        cells = [r.group, r.runtime, "-" if r.max_abs_diff is None else f"{r.max_abs_diff:.3g}"]
        for n in BATCHES:
            if n not in r.p50_ms:
                cells += ["-", "-", "-"]
                continue
            ratio = r.p50_ms[n] / baseline[r.group].p50_ms[n]
            cells += [f"{r.p50_ms[n]:.3f}", f"{r.p99_ms[n]:.3f}", f"{ratio:.3g}"]
        table.add_row(*cells)
    console.print(table)
    for r in results:
        console.print(f"{r.group} / {r.runtime}: {r.note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with one_openmp_thread():
        results, context = measure(args.repeats)
    show(results, context)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "model_runtimes.json"
    out.write_text(json.dumps({**context, "results": [asdict(r) for r in results]}, indent=2))
    console.print(f"written to {out}")


if __name__ == "__main__":
    main()
