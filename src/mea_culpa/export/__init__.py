"""Exports: a session as one document (the JSON shape), and that document as Markdown,
HTML, JSON or a replayable YAML answers file. Pure: it reads no journal, writes no file.

May import: messages, run, playbook and the base modules.
"""
