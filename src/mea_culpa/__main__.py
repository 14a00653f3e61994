"""`python -m mea_culpa` runs the command line."""

from mea_culpa.cli.app import main

main()
