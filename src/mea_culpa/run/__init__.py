"""The guided run: session state and its pure transitions, the runner that walks a session
through a playbook, and the asking seam (a script, or nobody; the person is asked by cli).

May import: playbook and the base modules. Never prints; never imports questionary, rich
or typer; saves through the store it is handed (the journal), never importing it.
"""
