"""Playbooks: the format (models, validation, JSON Schema), loading with file:line:col,
the search path, what an answer may be, and the sandboxed expressions playbooks use.

May import: errors, paths, files, yamlfile. Nothing above it (run, journal, messages,
export, apology, cli).
"""
