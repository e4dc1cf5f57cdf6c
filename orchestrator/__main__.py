"""``python -m orchestrator`` runs the command-line interface."""

from orchestrator.cli.main import main

if __name__ == "__main__":
    main()
