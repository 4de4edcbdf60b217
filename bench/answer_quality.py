"""How good is a budgeted study's answer? Scored against the brute-force answer of the same design (issue 25).

Usage: python bench/answer_quality.py truth [small|seed]
       python bench/answer_quality.py refine [small|seed] [TOP] [SEEDS] [KEY …]
       python bench/answer_quality.py score [small|seed] [BUDGET_SECONDS] [STUDY_SEEDS|FIRST-LAST] [gpu]

``truth`` trains the whole design (every configuration × 3 seeds, ``kcnn worker --jobs 2 --once``) and keeps its
leaderboard and effect tests as ``bench/<design>_design_truth.json`` (the seed design's is written on a GPU by
``bench/gpu_fused.py``, in the same format). ``refine`` trains the TOP (default 12) best configurations of the
kept truth again with more seeds (seeds 3 to SEEDS − 1, default 10 in all), and the configurations named by KEY
(a prefix is enough: those studies chose, say; one already refined is not trained again), and keeps each one's
mean over all its seeds beside the 3-seed one (``refined``): a 3-seed mean is uncertain by about 2 points here,
more than the 1-point regret target, so the best configuration of the 3-seed truth may be best by luck. ``score``
runs, for each of STUDY_SEEDS (default 3) seeds (0, 1, …; or the seeds FIRST to LAST), ``kcnn study answer``
and ``kcnn optimize`` (TPE, Hyperband, 2 seeds per trial, ``--time-limit`` the budget) on the same design with
BUDGET_SECONDS of wall time (default 90) on ``kcnn worker --jobs 2 --once``, and scores each against the truth:

* regret: the brute-force mean of the configuration it chose, below the brute-force best (points; target ≤ 1),
  against the 3-seed truth and, once refined, against the refined one (each configuration's mean over all its
  seeds);
* effects: every hyperparameter with brute-force ω² ≥ 5% called real, none with brute-force p > 0.2 called real
  (the effect tests on the study's own runs);
* what it spent: runs, epochs, wall seconds (the study must end within the budget and one run).

With ``gpu`` last, the studies run on one GPU instead (``kcnn worker --gpus 0 --per-gpu 8 --once``, 8 worker
slots; ``bench/gpu.sh`` scores the seed design that way within a minute). With ``KCNN_ANSWER_SHOW=FOLDER``
each study's ``kcnn study show`` is kept there; ``KCNN_ANSWER_KINDS=answer`` scores the budgeted studies alone.

Designs: ``seed`` is the seed report's (batch 16 32 × input 32 64 90 128 × channels 16,32 32,64 × kernel 2 3 4 5
× dilation 1 2,1; 15 epochs; 384 runs); ``small`` is the same at 32 and 64 px and 10 epochs (192 runs, 8.5
minutes to brute-force on these 2 cores: a 90 s budget is a sixth of that, 180 s a third).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kcnn import api
from kcnn.store import Store

DESIGNS = {
    "seed": ({"batch_size": [16, 32], "input_size": [32, 64, 90, 128], "channels": [[16, 32], [32, 64]],
              "kernel_size": [2, 3, 4, 5], "dilation": [1, [2, 1]]}, {"epochs": 15, "test_split": 0.2}),
    "small": ({"batch_size": [16, 32], "input_size": [32, 64], "channels": [[16, 32], [32, 64]],
               "kernel_size": [2, 3, 4, 5], "dilation": [1, [2, 1]]}, {"epochs": 10, "test_split": 0.2}),
}  # fmt: skip
SEEDS = 3


def kcnn(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "kcnn.cli", *args], capture_output=True, text=True, check=True).stdout


def _toml(value: object) -> str:
    return json.dumps(value)


def sweep_file(folder: Path, design: str) -> Path:
    grid, fixed = DESIGNS[design]
    path = folder / f"{design}.toml"
    lines = [f"repeats = {SEEDS}", "[fixed]", *(f"{k} = {_toml(v)}" for k, v in fixed.items()), "[grid]",
             *(f"{k} = {_toml(v)}" for k, v in grid.items())]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def space_file(folder: Path, design: str) -> Path:
    grid, fixed = DESIGNS[design]
    path = folder / f"{design}_space.toml"
    lines = [*(f"{k} = {_toml(v)}" for k, v in grid.items()), "[fixed]",
             *(f"{k} = {_toml(v)}" for k, v in fixed.items())]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def truth_path(design: str) -> Path:
    return Path(__file__).with_name(f"{design}_design_truth.json")


def truth_of(store: Store, grid: dict[str, list[object]]) -> dict[str, object]:
    """A fully trained design's answer, a few KB: each configuration's grid values, runs and mean; the effect tests."""
    board = [{"config_key": summary.config_key, "n": summary.n, "mean": summary.mean, "std": summary.std,
              "values": {name: summary.config.get(name) for name in grid}}
             for summary in api.leaderboard(store)]  # fmt: skip
    effects = api.effect_tests(store).to_dict()
    for term in effects["terms"]:
        term.pop("levels", None)
    return {"leaderboard": board, "effects": effects, "runs": len(store.runs())}


def brute_force(design: str) -> None:
    """Train the whole design and keep its answer."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        store = folder / "store"
        start = time.perf_counter()
        kcnn("queue", "sweep", str(sweep_file(folder, design)), "--store", str(store))
        kcnn("worker", "--jobs", "2", "--once", "--store", str(store))
        seconds = time.perf_counter() - start
        with Store(store) as opened:
            truth = {**truth_of(opened, DESIGNS[design][0]), "seconds": seconds}
    truth_path(design).write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    print(f"{design}: {truth['runs']} runs in {seconds:.0f} s; wrote {truth_path(design)}")


def refine(design: str, top: int, seeds: int, keys: list[str]) -> None:
    """Train the truth's `top` best configurations and those named in `keys` again at seeds 3 … `seeds` − 1, and
    keep their means over all seeds (one already refined is left as it is)."""
    from kcnn.config import ExperimentConfig

    truth = json.loads(truth_path(design).read_text())
    ranked = sorted(truth["leaderboard"], key=lambda entry: -entry["mean"])
    named = [entry for entry in ranked if any(entry["config_key"].startswith(key) for key in keys)]
    if len(named) < len(keys):
        sys.exit(f"refine: not every key names a configuration of the {design} truth: {' '.join(keys)}")
    board = [entry for entry in {id(e): e for e in ranked[:top] + named}.values() if "refined" not in entry]
    if not board:
        sys.exit("refine: every configuration asked for is refined already")
    fixed = DESIGNS[design][1]
    prepared = api.prepare_configs([ExperimentConfig(**fixed, **entry["values"]) for entry in board])  # as queued
    configs = {entry["config_key"]: config for entry, config in zip(board, prepared, strict=True)}
    if wrong := [key for key, config in configs.items() if config.config_key != key]:
        sys.exit(f"the design's fixed values no longer give the truth's configurations ({', '.join(wrong)})")
    with tempfile.TemporaryDirectory() as scratch:
        store = Path(scratch) / "store"
        start = time.perf_counter()
        with Store(store) as opened:
            opened.add_runs([config.replace(seed=seed) for config in configs.values() for seed in range(SEEDS, seeds)])
        kcnn("worker", "--jobs", "2", "--once", "--store", str(store))
        seconds = time.perf_counter() - start
        with Store(store) as opened:
            more = {summary.config_key: summary for summary in api.leaderboard(opened)}
    for entry in board:
        extra = more[entry["config_key"]]
        n = entry["n"] + extra.n
        mean = (entry["n"] * entry["mean"] + extra.n * extra.mean) / n
        entry["refined"] = {"n": n, "mean": mean}
    earlier = truth.get("refined", {"runs": 0, "seconds": 0.0, "keys": []})
    truth["refined"] = {"top": max(top, earlier.get("top", 0)), "seeds": seeds,
                        "keys": sorted({*earlier.get("keys", []), *(entry["config_key"] for entry in named)}),
                        "runs": earlier["runs"] + sum(extra.n for extra in more.values()),
                        "seconds": earlier["seconds"] + seconds}  # fmt: skip
    truth_path(design).write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    for entry in sorted(board, key=lambda entry: -entry["refined"]["mean"]):
        print(f"  {entry['config_key'][:8]} {entry['values']}: {entry['mean']:.1%} (n={entry['n']}) → "
              f"{entry['refined']['mean']:.1%} (n={entry['refined']['n']})")  # fmt: skip
    print(f"{design}: refined the top {top} with seeds {SEEDS}–{seeds - 1} in {seconds:.0f} s; "
          f"wrote {truth_path(design)}")  # fmt: skip


def regret_of(truth: dict, chosen: str | None, refined: bool = False) -> float | None:
    """Points between the best configuration's mean and the chosen one's (`None`: not a configuration of the truth).

    Refined: each configuration's mean over all its seeds (`refine`), where the truth has more than three.
    """
    means = {entry["config_key"]: (entry.get("refined") or entry)["mean"] if refined else entry["mean"]
             for entry in truth["leaderboard"]}  # fmt: skip
    if chosen not in means:
        return None
    return 100 * (max(means.values()) - means[chosen])


def score_study(store: Path, study_id: int, truth: dict, budget: float) -> dict[str, object]:
    """What a study chose and called real, against the truth."""
    real_truth = {term["name"] for term in truth["effects"]["terms"] if (term["omega_squared"] or 0) >= 0.05}
    null_truth = {term["name"] for term in truth["effects"]["terms"] if term["p"] is not None and term["p"] > 0.2}
    with Store(store) as opened:
        summary = api.study_summary(opened, study_id)
        runs = opened.study_runs(study_id)
        try:
            called = {term.name for term in api.effect_tests(opened, study=study_id).terms if term.real}
        except Exception as error:  # too few runs to test: nothing called real
            print(f"    (effect tests: {error})")
            called = set()
    chosen = summary.best_key
    study = summary.study
    end = study.finished or time.time()
    return {
        "regret": regret_of(truth, chosen),
        "refined_regret": regret_of(truth, chosen, refined=True) if "refined" in truth else None,
        "missed": sorted(real_truth - called),
        "false": sorted(called & null_truth),
        "runs": len(runs),
        "epochs": sum(run.epochs_done for run in runs),
        "seconds": end - study.created,
        "over": max(end - study.created - budget, 0.0),
    }


def run_study(folder: Path, design: str, kind: str, seed: int, budget: float, gpu: bool = False) -> dict[str, object]:
    store = folder / f"{kind}-{seed}"
    slots = "8" if gpu else "2"
    if kind == "answer":
        kcnn("study", "answer", str(sweep_file(folder, design)), "--budget", f"{budget:g}", "--workers", slots,
             "--seed", str(seed), "--store", str(store))  # fmt: skip
    else:
        kcnn("optimize", str(space_file(folder, design)), "--trials", "1000", "--sampler", "tpe", "--pruner",
             "hyperband", "--repeats", "2", "--time-limit", f"{budget:g}", "--parallel", slots, "--seed", str(seed),
             "--store", str(store))  # fmt: skip
    workers = ("--gpus", "0", "--per-gpu", "8") if gpu else ("--jobs", "2")
    kcnn("worker", *workers, "--once", "--store", str(store))
    keep = os.environ.get("KCNN_ANSWER_SHOW")  # a folder: keep each study's `kcnn study show` (the README quotes one)
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shown = kcnn("study", "show", "1", "--store", str(store))
        (Path(keep) / f"{design}-{budget:g}s-{kind}-{seed}.txt").write_text(shown)
    return score_study(store, 1, json.loads(truth_path(design).read_text()), budget)


def seed_list(text: str) -> list[int]:
    """``3``: seeds 0, 1, 2; ``3-5``: seeds 3, 4, 5 (study seeds, or the simulator's plan seeds)."""
    first, dash, last = text.partition("-")
    return list(range(int(first), int(last) + 1)) if dash else list(range(int(first)))


def score(design: str, budget: float, seeds: list[int], gpu: bool = False) -> None:
    kinds = os.environ.get("KCNN_ANSWER_KINDS", "answer,optimize").split(",")  # e.g. `answer` alone
    if unknown := set(kinds) - {"answer", "optimize"}:
        sys.exit(f"KCNN_ANSWER_KINDS: {', '.join(sorted(unknown))} is not a kind; give answer, optimize or both")
    truth = json.loads(truth_path(design).read_text())
    where = "kcnn worker --gpus 0 --per-gpu 8" if gpu else "kcnn worker --jobs 2"
    print(f"{design} design ({len(truth['leaderboard'])} configurations), {budget:g} s budget, {where}:")
    print(f"  brute force: {truth['runs']} runs; real (ω² ≥ 5%): "
          + ", ".join(t["name"] for t in truth["effects"]["terms"] if (t["omega_squared"] or 0) >= 0.05))  # fmt: skip
    results: dict[str, list[dict[str, object]]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in seeds:
            for kind in results:
                result = run_study(Path(scratch), design, kind, seed, budget, gpu)
                results[kind].append(result)
                regret = "—" if result["regret"] is None else f"{result['regret']:.1f}"
                if "refined" in truth:
                    refined = result["refined_regret"]
                    regret += f" ({'—' if refined is None else f'{refined:.1f}'} refined)"
                print(f"  {kind:<8} seed {seed}: regret {regret} points · missed {result['missed'] or 'none'} · "
                      f"false {result['false'] or 'none'} · {result['runs']} runs, {result['epochs']} epochs, "
                      f"{result['seconds']:.0f} s ({result['over']:.0f} s over)", flush=True)  # fmt: skip

    def median(rows: list[dict[str, object]], name: str) -> float:
        found = [row[name] for row in rows if row[name] is not None]
        return statistics.median(found) if found else float("nan")  # type: ignore[type-var]

    for kind, rows in results.items():
        if "refined" in truth:
            print(f"  {kind}: median regret against the refined truth {median(rows, 'refined_regret'):.1f} points")
        print(f"  {kind}: median regret {median(rows, 'regret'):.1f} points (target ≤ 1); all effects right in "
              f"{sum(not row['missed'] and not row['false'] for row in rows)} of {len(rows)}")  # fmt: skip


def main() -> None:
    action = sys.argv[1] if len(sys.argv) > 1 else "score"
    design = sys.argv[2] if len(sys.argv) > 2 else "small"
    if action == "truth":
        brute_force(design)
    elif action == "refine":
        top = int(sys.argv[3]) if len(sys.argv) > 3 else 12
        refine(design, top, int(sys.argv[4]) if len(sys.argv) > 4 else 10, sys.argv[5:])
    else:
        budget = float(sys.argv[3]) if len(sys.argv) > 3 else 90.0
        score(design, budget, seed_list(sys.argv[4]) if len(sys.argv) > 4 else [0, 1, 2], gpu=sys.argv[-1] == "gpu")


if __name__ == "__main__":
    main()
