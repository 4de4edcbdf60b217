"""Reports: grouping and statistics of finished runs, Rich tables (returned, never printed), curves, export.

Never imports `kcnn.queue` or `kcnn.training`'s heavy modules.
"""
