"""The face: the Typer app, one module per command family, the rich terminal face (ui)
and the questionary prompts. The only layer that prints, asks a person, or exits.

May import every layer below it; nothing imports it.
"""
