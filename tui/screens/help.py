"""The help screen: what each screen shows and its keys."""

from __future__ import annotations

from rich.markdown import Markdown
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
# kcnn-tui

kcnn trains small CNNs in **workers**; this app queues experiments, starts workers and shows
results. Everything lives in the store (`--store`, default `./kcnn-runs`); closing the app never
stops training.

**Queue** (start screen): `n` new experiment · `s` sweep · `o`/Enter open run · `c` cancel ·
`r` retry · `p` priority · `l` leaderboard · `w` workers · `t` studies · `i` store · `f` filter by state ·
`q` quit

**New experiment**: type values; the shape panel shows each layer's output size, receptive field,
parameters and the first layer's dilated kernel footprint. Invalid configs show the reason in red
and cannot be queued. `Repeats` queues that many seeds. `ctrl+s` queues · `escape` back.

**Sweep**: several values per field separated by spaces (`2 3 4`); a comma sets one value per conv
layer (`2,1`). The count of runs and of invalid combinations updates as you type; or load a TOML
sweep file. `ctrl+s` queues · `escape` back.

**Leaderboard**: configurations ranked by mean validation accuracy over seeds (n, ± std, 95% CI,
`!` an outlier by Dixon's Q or Grubbs), which hyperparameters matter beyond seed noise (ω², F-test,
verdict), an effect table. `m` best/final metric · `b` effect table by another hyperparameter ·
`g` plot every run against that hyperparameter · `escape` back.

**Run**: summary, config, shape plan, epochs, curves and events of one run. `e` evaluate the final
model per class (precision, recall, confusion matrix) · `p` classify image files or folders ·
`x` export the model (.keras, or .onnx with kcnn[onnx]) · `escape` back.

**Workers**: `a` start a CPU worker (jobs) · `g` start a GPU worker (`0 x 1 fuse 8`: GPU 0, one
child, up to 8 runs of one shape trained as one program) · `x` stop the selected worker
(its runs go back to the queue at their last checkpoint) · `escape` back.

**Studies**: races, Optuna studies and budgeted studies with their runs and verdicts. `r` race the
leaderboard's top N · `o` an Optuna study over a SPACE.toml · `a` answer within a budget (a SWEEP.toml,
a budget such as 5m, the worker slots) · `x` stop the selected study · `escape` back.

**Store**: what the store holds: runs by state, the database, model files by kind (resume
checkpoints, final and best-epoch models), the largest runs, the shared data cache. `p` keeps the
model files of the top N configurations only (their final models): it shows what it would free and
asks first; every number stays · `escape` back.
"""


class HelpScreen(ModalScreen[None]):
    """Keys and screens."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static(Markdown(HELP))  # rendered at once (the Markdown widget renders asynchronously)

    def action_close(self) -> None:
        self.dismiss(None)
