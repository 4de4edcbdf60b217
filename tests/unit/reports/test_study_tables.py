"""Issue 25: `kcnn study show` counts the configurations an Optuna sampler proposed again, and what kcnn did."""

from kcnn.reports.study_tables import duplicate_proposals, study_table, summarize_study
from kcnn.store import Study, StudyKind, StudyState


def _study(trials, kind=StudyKind.OPTIMIZE):
    return Study(1, kind, StudyState.DONE, {"repeats": 2, "params": [], "trials": 6}, {"trials": trials}, "best", 0.0,
                 1.0)  # fmt: skip


def test_duplicate_proposals_are_counted_by_what_they_cost():
    trials = {"0": {"key": "a", "state": "complete"}, "1": {"key": "a", "same_as": 0, "state": "complete"},
              "2": {"key": "b", "reused": [3, 4], "state": "complete"}, "3": {"key": "c", "reused": [5]},
              "4": {"key": "d", "same_as": 3}}  # fmt: skip
    assert duplicate_proposals(_study(trials)) == {"in_flight": 2, "answered": 1, "partly_reused": 1}
    assert duplicate_proposals(_study({"0": {"key": "a"}})) == {"in_flight": 0, "answered": 0, "partly_reused": 0}
    assert duplicate_proposals(_study(trials, StudyKind.RACE)) == {"in_flight": 0, "answered": 0, "partly_reused": 0}
    summary = summarize_study(_study(trials), [])
    assert summary.to_dict()["duplicate_proposals"]["in_flight"] == 2
    caption = str(study_table(summary, []).caption)
    assert "duplicate proposals: 4 — 1 answered from done runs, 2 took a trial in flight's outcome" in caption
    assert "verdict: best\nduplicate proposals" in caption and "\\x0a" not in caption  # a line break, not its escape
