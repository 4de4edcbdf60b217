"""`kcnn plot runs|box|curves` in the terminal and as PNG."""

from kcnn.cli import main


def test_each_figure_draws_in_the_terminal_and_as_png(swept, tmp_path, capsys):
    assert main(["plot", "runs", "--x", "kernel", "--color", "dilation"]) == 0
    out = capsys.readouterr().out
    assert "● run · ━ mean · ┃ 95% CI" in out and "n=6" in out and "dilation=2" in out
    assert main(["plot", "box", "--by", "dilation"]) == 0
    assert "median" in capsys.readouterr().out
    png = tmp_path / "figures" / "curves.png"
    assert main(["plot", "curves", "--by", "dilation", "--png", str(png)]) == 2  # issue 23: no folder is made
    assert "does not exist; create it first" in capsys.readouterr().err and not png.parent.exists()
    png.parent.mkdir()
    assert main(["plot", "curves", "--by", "dilation", "--png", str(png)]) == 0
    assert "mean validation accuracy by dilation" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_mistakes_are_one_line(swept, capsys):
    assert main(["plot", "runs", "--x", "bogus"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["plot", "pie", "--x", "kernel"]) == 2
