"""Stores as an older kcnn left them, for the upgrade tests."""

import json
import sqlite3

from kcnn.store.schema import MIGRATIONS, statements

OLD_CONFIG = {  # as kcnn 0.1 (schema 2) stored it: relative dataset, auto colour, no precision field
    "input_size": 16, "batch_size": 32, "channels": [4], "kernel_size": [2], "dilation": [2], "stride": [1],
    "padding": "valid", "pool_size": 2, "dense_units": 8, "activation": "relu", "epochs": 3,
    "learning_rate": 0.001, "optimizer": "adam", "seed": 0, "val_split": 0.2, "split_seed": 0,
    "dataset": "builtin:shapes", "color_mode": "auto", "resize": "stretch", "skip_bad": False,
}  # fmt: skip


def schema_store(folder, version):
    """An empty store folder at schema `version`, as the kcnn of that version made it; an open connection."""
    folder.mkdir()
    connection = sqlite3.connect(folder / "kcnn.sqlite")
    for script in MIGRATIONS[:version]:
        for statement in statements(script):
            connection.execute(statement)
    connection.execute(f"PRAGMA user_version = {version}")
    return connection


def version_2_store(folder, configs):
    """A schema-2 store (kcnn 0.1) with one done run per config, each with three epochs."""
    connection = schema_store(folder, 2)
    for run_id, config in enumerate(configs, start=1):
        connection.execute(
            "INSERT INTO runs (config, config_key, seed, state, epochs_total, device) "
            "VALUES (?, 'oldkey', ?, 'done', 3, 'cpu')",
            [json.dumps(config), config["seed"]],
        )
        for epoch, rate in ((1, 100.0), (2, 900.0), (3, 200.0)):
            connection.execute(
                "INSERT INTO epochs (run_id, epoch, attempt, images_per_second) VALUES (?, ?, 1, ?)",
                (run_id, epoch, rate),
            )
    connection.execute("UPDATE runs SET images_per_second = 400.0")
    connection.commit()
    connection.close()
    return folder
