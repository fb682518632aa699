"""``python -m fewlabels``: the command line, as the ``fewlabels`` command."""

from .cli import main

if __name__ == "__main__":
    main()
