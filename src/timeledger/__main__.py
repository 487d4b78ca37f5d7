"""`python -m timeledger` runs the CLI."""

from timeledger.cli.main import main

main()
