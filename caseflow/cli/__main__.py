"""`python -m caseflow.cli …`: the same as the `caseflow` command."""

from . import main

main()
