"""``python -m modelyard``: the command line (same as the ``modelyard`` script)."""

from modelyard.cli import main

if __name__ == "__main__":
    main()
