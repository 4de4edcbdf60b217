"""The queue: sweep expansion, the worker supervisor and its children, the runner that executes a claim."""
