"""``python -m siege``: the same as the ``siege`` command."""

from siege.cli import main

if __name__ == "__main__":
    main()
