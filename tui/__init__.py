"""kcnn-tui: the terminal UI of kcnn (installed as `kcnn_tui`)."""
