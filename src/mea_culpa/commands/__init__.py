"""Command functions, one module per command family; `cli.py` registers them on the app.

Each module imports only typer at the top: everything heavy is imported inside the
function that needs it, so that `--help` stays fast.
"""
