"""The screens of kcnn-tui, one module each."""
