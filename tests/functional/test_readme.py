"""The README's Python API example runs as it stands."""

import re
from pathlib import Path

from loops import EXPECTED_LOOP

ROOT = Path(__file__).resolve().parents[2]


def _python_api_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python API", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return code


def test_the_python_api_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # in-process: keras and torch are already imported by the suite
    exec(compile(_python_api_example(), "README.md", "exec"), {"__name__": "__main__"})
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf"best validation accuracy \d+\.\d% \({EXPECTED_LOOP} loop\)", lines[0]), lines
    assert re.fullmatch(r"[0-9a-f]{8} 1 \d+\.\d%", lines[1]), lines  # one config, one seed, dilation 2
    assert re.fullmatch(r"\d+ parameters; 3 runs queued", lines[2]), lines
    assert (tmp_path / "kcnn-runs" / "kcnn.sqlite").is_file()
