from kcnn_tui.app import main


def test_tui_says_it_is_not_built_yet(capsys):
    assert main() == 1
    assert "not built yet" in capsys.readouterr().err
