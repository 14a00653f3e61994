"""Messages: drafting the customer apology, status updates, follow-up and internal note
from a session's answers and the playbook's templates, in Jinja's sandbox.

May import: run, playbook and the base modules.
"""
