"""The bad-input matrix: every command, hostile values; each is one line on stderr, exit code 2, no traceback.

Nothing here trains or starts a worker: each mistake must be caught before any work starts.
"""

import pytest

from kcnn.cli import main

HUGE = "99999999999999999999"
HUNDRED = [str(value) for value in range(1, 101)]
MILLION_POINTS = ["--kernel", *HUNDRED, "--dilation", *HUNDRED, "--batch-size", *HUNDRED]
MATRIX = [
    # hyperparameters
    ["train", "--kernel", "0"], ["train", "--kernel", "x"], ["train", "--dilation", "-1"], ["train", "--epochs", "0"],
    ["train", "--epochs", HUGE], ["train", "--batch-size", "0"], ["train", "--learning-rate", "nan"],
    ["train", "--learning-rate", "-1"], ["train", "--val-split", "1.5"], ["train", "--input-size", "2"],
    ["train", "--channels", "16", "a"], ["train", "--activation", "bogus"], ["train", "--optimizer", "bogus"],
    ["train", "--padding", "bogus"], ["train", "--color-mode", "bogus"], ["train", "--resize", "bogus"],
    ["train", "--precision", "bogus"], ["train", "--device", "tpu"], ["train", "--stride", "2", "--dilation", "2"],
    ["train", "--data", "/nonexistent/folder"], ["train", "--data", "builtin:nothing"],
    ["train", "--checkpoint-every", "nan"], ["plan", "--kernel", "99"], ["plan", "--classes", "0"],
    # queue
    ["queue", "add", "--repeats", "0"], ["queue", "add", "--repeats", "1000000000"],
    ["queue", "add", "--priority", HUGE], ["queue", "add", "--max-attempts", "0"],
    ["queue", "add", "--random", "0"], ["queue", "add", *MILLION_POINTS],
    ["queue", "sweep", "/nonexistent.toml"], ["queue", "cancel"], ["queue", "cancel", "x"], ["queue", "cancel", HUGE],
    ["queue", "retry", HUGE], ["queue", "prioritize", "1", HUGE], ["queue", "prioritize", HUGE, "1"],
    # worker
    ["worker", "--lease", "nan"], ["worker", "--lease", "-1"], ["worker", "--poll", "nan"], ["worker", "--stall", "-1"],
    ["worker", "--stall", "nan"], ["worker", "--jobs", "0"], ["worker", "--gpus", "x"], ["worker", "stop", "0"],
    # reads
    ["run", "show", HUGE], ["run", "show", "x"], ["run", "curves", HUGE], ["runs", "--limit", "-1"],
    ["runs", "--limit", HUGE], ["runs", "--state", "bogus"], ["runs", "export", "--state", "bogus"],
    ["runs", "export", "--format", "xml"], ["runs", "export", "--output", "/nonexistent/dir/x.csv"],
    ["leaderboard", "--top", "0"], ["leaderboard", "--metric", "x"],
    ["leaderboard", "--filter", "kernel"], ["leaderboard", "--filter", "bogus=2"], ["compare", "a"],
    ["compare", "--by", "bogus"], ["data", "info", "/nonexistent/folder"], ["store", "info", "--store", "/nonexistent"],
]  # fmt: skip


@pytest.mark.parametrize("argv", MATRIX, ids=lambda argv: " ".join(argv)[:60])
def test_every_mistake_is_one_line_and_exit_code_2(argv, store_path, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, (code, captured.err)
    assert "Traceback" not in captured.err + captured.out
    assert captured.err.startswith("error: ") or captured.err.startswith("usage: "), captured.err
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 or captured.err.startswith("usage: "), captured.err


#: Issue 23's command-level cases that need a file: `{dir}` is a scratch folder holding the files below.
FILES = {
    "step.toml": "input_size = {low = 16, high = 30, step = -2}\n",
    "inf.toml": "learning_rate = {low = 1e-4, high = inf}\n",
    "text.toml": 'kernel_size = ["abc", 2]\n',
    "bool.toml": "kernel_size = [true, 2]\n",
    "nested.toml": "kernel_size = [[[2]]]\n",
    "zero.toml": "input_size = {low = 16, high = 30, step = 0}\n",
    "nested-sweep.toml": "[grid]\nkernel_size = [[[2]]]\n",
    "mixed-sweep.toml": "[grid]\ndilation = [[2, [1]]]\n",
    "seed-sweep.toml": "seed = [[1, 2]]\n[grid]\nkernel_size = [2]\n",
    "twice-sweep.toml": "[grid]\nkernel_size = [2, 3]\n[fixed]\nkernel_size = 2\n",
    "garbage/kcnn.sqlite": "not a database " * 100,
}
FILE_MATRIX = [
    *(["optimize", "{dir}/" + name] for name in ("step.toml", "inf.toml", "text.toml", "bool.toml", "nested.toml",
                                                 "zero.toml")),
    *(["queue", "sweep", "{dir}/" + name, "--dry-run"] for name in ("nested-sweep.toml", "mixed-sweep.toml",
                                                                     "seed-sweep.toml", "twice-sweep.toml")),
    ["store", "upgrade", "--store", "{dir}/garbage"], ["store", "info", "--store", "{dir}/garbage"],
    ["effects", "--by", "kernel,kernel"], ["effects", "--by", ""], ["compare", "--by", ""],
    ["compare", "--by", "dilation,dilation"], ["plot", "runs", "--by", "kernel", "--png", "{dir}"],
    ["plot", "runs", "--by", "kernel", "--png", "/nonexistent/p.png"], ["run", "curves", "1", "--png", "{dir}"],
    ["model", "export", "1", "--output", "{dir}"], ["model", "evaluate", "1", "--png", "{dir}"],
    ["race", "--top", "99999"],
]  # fmt: skip


@pytest.mark.parametrize("argv", FILE_MATRIX, ids=lambda argv: " ".join(argv)[:60])
def test_every_mistake_with_a_file_is_one_line_and_exit_code_2(argv, store_path, tmp_path, capsys):
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    test_every_mistake_is_one_line_and_exit_code_2([arg.format(dir=tmp_path) for arg in argv], store_path, capsys)
