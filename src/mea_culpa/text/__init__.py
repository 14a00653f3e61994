"""Text: the pure functions that shape what people type into what a draft says (wording),
the filters templates use (filters), and what may reach a terminal (terminal).

May import: the standard library only. Every layer may import it.
"""
