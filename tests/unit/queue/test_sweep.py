from pathlib import Path

import pytest

from kcnn.errors import ConfigError, FileContentError
from kcnn.queue.sweep import SweepSpec, expand, load_sweep

ROOT = Path(__file__).resolve().parents[3]


def test_grid_times_repeats():
    expansion = expand(SweepSpec(grid={"kernel_size": [2, 3], "dilation": [1, 2]}, repeats=3))
    assert expansion.grid_points == 4 and not expansion.invalid
    assert len(expansion.configs) == 12
    assert sorted({c.seed for c in expansion.configs}) == [0, 1, 2]
    assert len({c.config_key for c in expansion.configs}) == 4


def test_per_layer_values_and_seed_lists():
    expansion = expand(SweepSpec(grid={"dilation": [[2, 1], 1], "seed": [10, 20]}, repeats=2))
    assert [c.dilation for c in expansion.configs[:1]] == [(2, 1)]
    assert sorted({c.seed for c in expansion.configs}) == [10, 11, 20, 21]


def test_invalid_points_are_listed_with_reasons():
    expansion = expand(SweepSpec(grid={"kernel_size": [2, 9], "input_size": [16]}))
    assert len(expansion.configs) == 1
    [invalid] = expansion.invalid
    assert invalid.values == {"kernel_size": 9, "input_size": 16}
    assert invalid.reason.startswith("Conv layer 2 would produce an empty feature map")


def test_random_sampling_is_seeded_and_bounded():
    spec = SweepSpec(grid={"kernel_size": [2, 3, 4], "dilation": [1, 2], "input_size": [32, 64]}, random=5)
    first = [c.config_key for c in expand(spec).configs]
    assert len(first) == 5 and len(set(first)) == 5
    assert first == [c.config_key for c in expand(spec).configs]
    assert len(expand(SweepSpec(grid={"kernel_size": [2, 3]}, random=50)).configs) == 2


def test_example_sweep_file():
    spec = load_sweep(ROOT / "examples" / "dilation_sweep.toml")
    expansion = expand(spec)
    assert spec.repeats == 3 and expansion.grid_points == 18
    assert len(expansion.configs) == 54


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[grid]\nkernal = [2]\n", "Unknown field `kernal` in the grid"),
        ("repeat = 2\n[grid]\nkernel_size = [2]\n", "unknown key `repeat`; known keys are grid"),
        ("[grid]\n", "needs a [grid] table"),
        ("[grid\n", "is not valid TOML"),
        ("[grid]\nkernel_size = []\n", "`kernel_size` in the grid has no values"),
    ],
)
def test_bad_sweep_files(tmp_path, text, message):
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        expand(load_sweep(path))


def test_missing_sweep_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_sweep(tmp_path / "nope.toml")


def test_sweep_files_take_per_layer_values_as_lists_or_as_typed_text(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text('[grid]\ndilation = [[2, 1], "2,1", "1", 2]\n[fixed]\nchannels = "8,16"\n')
    spec = load_sweep(path)
    assert spec.grid["dilation"] == [(2, 1), (2, 1), 1, 2] and spec.fixed["channels"] == (8, 16)
    assert [c.dilation for c in expand(spec).configs] == [(2, 1), (2, 1), (1, 1), (2, 2)]
    path.write_text('[grid]\ndilation = ["two"]\n')
    with pytest.raises(ConfigError, match=r": `dilation` must be whole numbers, one per conv layer"):
        load_sweep(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('repeats = "abc"', "`repeats` must be a whole number at least 1; got 'abc'."),
        ("random = 1.5", "`random` must be a whole number at least 1; got 1.5."),
        ("random = true", "`random` must be a whole number at least 1; got True."),
        ('priority = "x"', "`priority` must be a whole number between"),
        ("max_attempts = 0", "`max_attempts` must be a whole number between 1 and 1,000; got 0."),
        ("sample_seed = -1", "`sample_seed` must be a whole number at least 0; got -1."),
        ("max_runs = 0", "`max_runs` must be a whole number at least 1; got 0."),
        ("fixed = [1, 2]", "`fixed` must be a table of field = value (a [fixed] section); got [1, 2]."),
    ],
)
def test_sweep_files_with_wrong_types_are_one_line_naming_the_key(tmp_path, text, message):
    path = tmp_path / "sweep.toml"
    path.write_text(text + "\n[grid]\nkernel_size = [2, 3]\n")
    with pytest.raises(ConfigError) as raised:
        load_sweep(path)
    assert str(raised.value).startswith(f"Sweep file {str(path)!r}: {message[:40]}"), str(raised.value)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_grid_seeds_must_be_whole_numbers(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text("[grid]\nkernel_size = [2]\nseed = [[1, 2]]\n")
    with pytest.raises(ConfigError, match=r": `seed` must be a whole number; got \[1, 2\]\.$"):
        expand(load_sweep(path))
    path.write_text("[grid]\nkernel_size = [2]\nseed = [-1]\n")
    with pytest.raises(ConfigError, match=r"^`seed` values must be whole numbers, 0 or more; got -1\.$"):
        expand(load_sweep(path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[grid]\nkernel_size = [[[2]]]\n", "`kernel_size` must be a whole number or a flat list of whole numbers"),
        ("[grid]\ndilation = [[2, [1]]]\n", "`dilation` must be a whole number or a flat list of whole numbers"),
        ("[grid]\ndilation = [true]\n", "`dilation` must be a whole number or a flat list"),
        ("[grid]\nepochs = [1.5]\n", "`epochs` must be a whole number; got 1.5."),
        ("[grid]\nlearning_rate = [inf]\n", "`learning_rate` must be a finite number"),
        ("[grid]\nactivation = [1]\n", "`activation` must be text"),
        ("[grid]\nskip_bad = [1]\n", "`skip_bad` must be true or false; got 1."),
        ("[grid]\nkernel_size = [2, 3]\n[fixed]\nkernel_size = 2\n", "`kernel_size` is both in [grid] and in [fixed]"),
        ("seed = [[1, 2]]\n[grid]\nkernel_size = [2]\n", "unknown key `seed`; a field goes under [grid]"),
    ],
)
def test_sweep_file_values_of_the_wrong_shape_are_one_line_in_the_files_words(tmp_path, text, message):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    with pytest.raises(FileContentError) as raised:
        load_sweep(path)
    assert str(raised.value).startswith(f"Sweep file {str(path)!r}: ") and message in str(raised.value)


def test_a_huge_grid_is_counted_and_refused_before_anything_is_built():
    grid = {"kernel_size": list(range(1, 101)), "dilation": list(range(1, 101)), "input_size": list(range(100, 200))}
    with pytest.raises(ConfigError) as raised:
        expand(SweepSpec(grid=grid))
    assert str(raised.value) == (
        "This sweep would queue 1,000,000 runs (1,000,000 configuration(s) × 1 run(s) each), more than the limit of "
        "10,000. Sample the grid with `--random N`, or raise the limit with `--max-runs N`."
    )
    with pytest.raises(ConfigError, match=r"would queue 2,000,000,000 runs \(2 configuration\(s\) × 1,000,000,000"):
        expand(SweepSpec(grid={"kernel_size": [2, 3]}, repeats=10**9))
    sampled = expand(SweepSpec(grid=grid, random=5, max_runs=5))  # the ways out
    assert sampled.grid_points == 5
    assert len(expand(SweepSpec(grid={"kernel_size": [2, 3]}, repeats=3, max_runs=6)).configs) == 6


def test_a_sweep_file_sets_what_its_runs_keep(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text('keep = "best"\n[grid]\nkernel_size = [2]\n')
    assert load_sweep(path).keep == "best"
    path.write_text('keep = "everything"\n[grid]\nkernel_size = [2]\n')
    with pytest.raises(FileContentError, match="`keep` must be one of final\\+best, final, best, all, none"):
        load_sweep(path)
