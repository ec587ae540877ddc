"""``python -m prolific_async.cli`` is the ``prolific-async`` command."""

from . import main

if __name__ == "__main__":
    main()
