"""A budgeted study's answer on a simulated machine, many times over: which planner choices find the best network.

Usage: python bench/answer_simulated.py [WORLDS] [BUDGET_SECONDS] [small|seed]
       KCNN_SIM_SET="FOCUS_SHARE=0.3,RACE_SIZE=2" python bench/answer_simulated.py …  (other planner constants)
       KCNN_SIM_PLANS=3 KCNN_SIM_JSON=rows.json python bench/answer_simulated.py …  (plan seeds 0-2 in each world,
       or KCNN_SIM_PLANS=3-5: seeds 3 to 5; every study's row kept as JSON)
       python bench/answer_simulated.py compare A.json B.json  (two planners' kept rows, world by world)

`bench/answer_quality.py` scores real studies against the brute force, 16 minutes for three studies on these
2 cores, and the same code scored twice differs by up to 3 points in one study: three studies cannot rank two
planners. This bench runs the real planner (`kcnn.queue.answer.decide_answer`, successive halving, the race,
the store) on a simulated clock with two simulated worker slots, in a world built from the kept brute force
(`bench/<design>_design_truth.json`): each configuration's true mean is its brute-force mean (refined over all
its seeds where `answer_quality.py refine` trained more), a run's best validation accuracy is that mean plus
seed noise of the brute force's own spread (σ from its within-configuration mean square), its epochs climb to
it (rungs see a noisy, lower curve), and it takes the seconds a cost model fitted to the brute force's wall
time gives it (a fixed cost per run plus its training FLOPs at one rate; the study's own cost model starts
from its priors, as on a real machine, and then knows the rate). WORLDS studies (default 40), each with its own
plan seed and noise draw, give the regret's distribution: median, mean, and how often within 1 point.
With ``KCNN_SIM_PLANS=P`` (or ``A-B``) each world is studied with plan seeds 0 … P−1 (A … B) instead, as
`answer_quality.py score` studies the one real world (training on the CPU is deterministic: a configuration and
seed trains to the same accuracy every time, so three real studies are three plan seeds in one fixed draw of
seed noise).

What it cannot tell: how real learning curves rank configurations at the rungs, and the real machine's
timing noise. It favoured one planner (the screen renamed to fit, focus 0.2) over plan seeds 0-119 that nine
real studies of plan seeds 0-2 then measured worse; at plan seeds 0-2 it predicts that too, and its predictions
for plan seeds 3-5, written down before the real scoring, matched it (12 real studies: correlation 0.83;
docs/benchmarks.md, 2026-12-06). Real scorings with `answer_quality.py score` have the last word.
"""

from __future__ import annotations

import heapq
import json
import os
import statistics
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from answer_quality import DESIGNS, regret_of, seed_list, truth_path

from kcnn import api
from kcnn.config import ExperimentConfig
from kcnn.contract import EpochRecord, RunSummary
from kcnn.errors import Pruned
from kcnn.queue import answer
from kcnn.queue.answer import AnswerSettings, CostModel, start_answer
from kcnn.queue.halving import halving_check
from kcnn.queue.studies import advance_studies
from kcnn.store import RunState, Store

SLOTS = 2
SEEDS = 2
TRAIN_IMAGES = 480  # builtin:shapes: 800 images, 60% trained on (val 0.2, test 0.2)
#: How far below its final accuracy a run's epoch-e accuracy starts (× (1 − e/E)²) and how noisy early epochs are.
CURVE_DROP = 0.25
CURVE_NOISE = 0.03


def calibrated_model(truth: dict[str, Any], fixed: dict[str, Any], longest: float = 119.0) -> CostModel:
    """A fixed cost and one FLOP rate that give the brute force's wall time on 2 slots and its longest run."""
    flops = np.array([_flops(ExperimentConfig(**fixed, **entry["values"])) for entry in truth["leaderboard"]])
    per_seed = truth["seconds"] * SLOTS / (truth["runs"] / len(flops))
    rate = (flops.sum() - len(flops) * flops.max()) / (per_seed - len(flops) * longest)
    return CostModel(float(rate), float(longest - flops.max() / rate), measured=len(flops))


def _flops(config: ExperimentConfig) -> float:
    return 3 * config.plan(num_classes=2).flops * TRAIN_IMAGES * config.epochs


class World:
    """The truth's means, seed noise and run times (the truth read and the cost model fitted once); one noise draw."""

    def __init__(self, design: str) -> None:
        self.grid, self.fixed = DESIGNS[design]
        self.truth = json.loads(truth_path(design).read_text())
        self.means = {
            entry["config_key"]: (entry.get("refined") or entry)["mean"] for entry in self.truth["leaderboard"]
        }
        self.sigma = float(np.sqrt(self.truth["effects"]["noise_mean_square"]))
        self.model = calibrated_model(self.truth, self.fixed)
        self.world = 0
        """Which draw of seed noise."""

    def curve(self, config: ExperimentConfig) -> list[float]:
        """The run's validation accuracy at each epoch (its last is its mean plus its seed's noise)."""
        rng = np.random.default_rng([zlib.crc32(config.config_key.encode()), config.seed, self.world])
        final = self.means[config.config_key] + rng.normal(0, self.sigma)
        epochs = config.epochs
        left = [1 - epoch / epochs for epoch in range(1, epochs + 1)]
        return [float(np.clip(final - CURVE_DROP * share**2 + rng.normal(0, CURVE_NOISE) * share, 0, 1))
                for share in left]  # fmt: skip

    def seconds(self, config: ExperimentConfig) -> float:
        return self.model.seconds(config, TRAIN_IMAGES)


def simulate(world: World, budget: float, folder: Path, plan_seed: int) -> dict[str, Any]:
    """One study with `plan_seed`, start to answer, on `SLOTS` simulated slots; what it chose and spent."""
    now = [0.0]
    clock, fit = answer.clock, CostModel.fit
    answer.clock = lambda: now[0]  # the study's clock; the store's own timestamps are not used by the planner

    def known_rate(cls: type[CostModel], runs: list[Any]) -> CostModel:  # the priors until a run is done, as real
        return world.model if any(run.state == RunState.DONE for run in runs) else cls()

    CostModel.fit = classmethod(known_rate)  # type: ignore[method-assign,assignment]
    try:
        with Store(folder / "store") as store:
            settings = AnswerSettings(world.grid, {**world.fixed, "color_mode": "rgb"}, budget_seconds=budget,
                                      workers=SLOTS, seeds=SEEDS, plan_seed=plan_seed,
                                      train_images=TRAIN_IMAGES)  # fmt: skip
            study_id = start_answer(store, settings)
            now[0] = store.get_study(study_id).created
            start = now[0]
            events: list[tuple[float, int, int, Any, int]] = []  # (time, order, slot, claim state, epoch)
            free = list(range(SLOTS))
            order = idle = 0
            while True:
                for slot in list(free):
                    advance_studies(store)
                    claim = store.claim(f"sim-{slot}", lease_seconds=10**7)
                    if claim is None:
                        break
                    free.remove(slot)
                    config = claim.config
                    run = store.get_run(claim.run_id)
                    check = halving_check(store, store.get_study(run.study_id), run)
                    per_epoch = (world.seconds(config) - world.model.overhead) / config.epochs
                    state = (claim, check, world.curve(config), per_epoch)
                    order += 1
                    heapq.heappush(events, (now[0] + world.model.overhead + per_epoch, order, slot, state, 1))
                if not events:  # every slot idle: the study's next step may queue more (a worker polls again)
                    advance_studies(store)
                    if store.get_study(study_id).state != "running":
                        break
                    idle += 1
                    if idle > 1:
                        raise RuntimeError("a running study queued nothing while every slot was idle")
                    continue
                idle = 0
                when, _, slot, (claim, check, curve, per_epoch), epoch = heapq.heappop(events)
                now[0] = when
                record = EpochRecord(epoch=epoch, val_accuracy=curve[epoch - 1], seconds=per_epoch,
                                     images_per_second=TRAIN_IMAGES / per_epoch)  # fmt: skip
                store.record_epoch(claim, record)
                try:
                    if check is not None:
                        check(record)
                except Pruned as error:
                    store.prune(claim, str(error))
                    free.append(slot)
                    continue
                if epoch < len(curve):
                    order += 1
                    heapq.heappush(events, (when + per_epoch, order, slot, (claim, check, curve, per_epoch), epoch + 1))
                    continue
                value = max(curve)
                store.finish(claim, RunSummary({"flops_per_image": claim.config.plan(num_classes=2).flops,
                                                "best_test_accuracy": value, "test_accuracy": value}))  # fmt: skip
                free.append(slot)
            study = store.get_study(study_id)
            runs = store.study_runs(study_id)
            try:
                called = {term.name for term in api.effect_tests(store, study=study_id).terms if term.real}
            except Exception:
                called = set()
        tried = {run.config_key for run in runs if run.state == RunState.DONE}
        winner = study.progress.get("winner")
        return {"runs": len(runs), "over": max(now[0] - start - budget, 0.0), "called": called, "tried": len(tried),
                "reachable": 100 * (max(world.means.values()) - max(world.means[key] for key in tried)),
                "regret": regret_of(world.truth, winner, refined=True),
                "plain_regret": regret_of(world.truth, winner)}  # fmt: skip
    finally:
        answer.clock, CostModel.fit = clock, fit  # type: ignore[method-assign]


def overrides() -> dict[str, float]:
    """``KCNN_SIM_SET="FOCUS_SHARE=0.3,RACE_SIZE=2"``: planner constants of `kcnn.queue.answer` to try instead."""
    found: dict[str, float] = {}
    for item in filter(None, os.environ.get("KCNN_SIM_SET", "").split(",")):
        name, _, value = item.partition("=")
        if not hasattr(answer, name.strip()):
            sys.exit(f"KCNN_SIM_SET: kcnn.queue.answer has no {name.strip()!r}")
        found[name.strip()] = float(value) if "." in value else int(value)
    return found


def regret_summary(regrets: list[float]) -> str:
    """The regrets' median and mean, and how many are within the 1-point target."""
    within = sum(regret <= 1 + 1e-9 for regret in regrets)
    return (f"regret median {statistics.median(regrets):.2f}, mean {statistics.mean(regrets):.2f} points; within 1 "
            f"point in {within} of {len(regrets)} ({within / len(regrets):.0%})")  # fmt: skip


def compare(first: Path, second: Path) -> None:
    """Two planners' rows (``KCNN_SIM_JSON``, same worlds and plan seeds): overall, and as one world's studies see it.

    A real scoring is a few plan seeds in one world, so this says how often such a scoring ranks the two planners
    the other way round from their means over every world.
    """
    kept = [json.loads(Path(path).read_text()) for path in (first, second)]
    tables = [{(row["world"], row["plan"]): row["regret"] for row in data["rows"]} for data in kept]
    common = sorted(set(tables[0]) & set(tables[1]))
    names = [f"{path} ({', '.join(f'{k}={v}' for k, v in data['setting'].items()) or 'as shipped'})"
             for path, data in zip((first, second), kept, strict=True)]  # fmt: skip
    for name, table in zip(names, tables, strict=True):
        print(f"{name}: {regret_summary([table[key] for key in common])}")
    overall = statistics.mean(tables[1][key] - tables[0][key] for key in common)
    worlds = sorted({world for world, _ in common})
    differences = []
    for world in worlds:
        keys = [key for key in common if key[0] == world]
        medians = [statistics.median(table[key] for key in keys) for table in tables]
        differences.append(medians[1] - medians[0])
    against = sum(difference * overall < 0 and abs(difference) >= 1 for difference in differences)
    print(f"second minus first, mean over {len(common)} studies: {overall:+.2f} points. In {len(worlds)} worlds, "
          f"the median of each world's {len(common) // len(worlds)} plan seeds: second better by a point or more in "
          f"{sum(d <= -1 for d in differences)}, worse by a point or more in {sum(d >= 1 for d in differences)}, "
          f"within a point in {sum(abs(d) < 1 for d in differences)}; {against} of {len(worlds)} worlds rank them "
          f"against their mean by a point or more")  # fmt: skip


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        compare(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    worlds = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    budget = float(sys.argv[2]) if len(sys.argv) > 2 else 300.0
    design = sys.argv[3] if len(sys.argv) > 3 else "seed"
    changed = overrides()
    for name, value in changed.items():
        setattr(answer, name, value)
    world = World(design)
    terms = world.truth["effects"]["terms"]
    real = {t["name"] for t in terms if (t["omega_squared"] or 0) >= 0.05}
    null = {t["name"] for t in terms if t["p"] is not None and t["p"] > 0.2}
    plans = seed_list(os.environ.get("KCNN_SIM_PLANS", "0"))
    rows = []
    for index, plan in ((index, plan) for index in range(worlds) for plan in (plans or [None])):
        world.world = index
        with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as scratch:
            row = simulate(world, budget, Path(scratch), index if plan is None else plan)
        row["effects_right"] = real <= row["called"] and not (row["called"] & null)
        row["world"], row["plan"] = index, plan
        rows.append(row)
        called = ", ".join(sorted(row["called"])) or "none"
        which = f"world {index}" + (f", plan seed {plan}" if plan is not None else "")
        print(f"  {which}: regret {row['regret']:.1f} (3-seed truth {row['plain_regret']:.1f}) · {row['runs']} "
              f"runs, {row['tried']} configurations (the best of them {row['reachable']:.1f} below the best) · "
              f"{row['over']:.0f} s over · called real: {called}", flush=True)  # fmt: skip
    regrets = [row["regret"] for row in rows if row["regret"] is not None]
    if os.environ.get("KCNN_SIM_JSON"):
        kept = [{**row, "called": sorted(row["called"])} for row in rows]
        Path(os.environ["KCNN_SIM_JSON"]).write_text(json.dumps({"setting": changed, "rows": kept}, indent=1))
    setting = ", ".join(f"{name}={value}" for name, value in changed.items()) or "as shipped"
    print(f"{design} design, {budget:g} s, {SLOTS} simulated slots, {worlds} worlds × {len(plans) or 1} plan seed(s), "
          f"planner {setting}:\n"
          f"  {regret_summary(regrets)}; the best configuration tried: median "
          f"{statistics.median(row['reachable'] for row in rows):.2f} below the best; configurations tried "
          f"{statistics.mean(row['tried'] for row in rows):.1f}, runs "
          f"{statistics.mean(row['runs'] for row in rows):.1f} (means); effects right in "
          f"{sum(row['effects_right'] for row in rows)} of {len(rows)}; over budget at most "
          f"{max(row['over'] for row in rows):.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
