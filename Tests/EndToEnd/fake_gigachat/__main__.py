"""``python3 -m fake_gigachat --port 0 --certdir DIR ...``: the fake API as a process of its own.

Run it with Tests/EndToEnd as the working directory or on PYTHONPATH; ``--help`` lists the options.
"""

import sys
from pathlib import Path

if not __package__:
    # Run by path (python3 Tests/EndToEnd/fake_gigachat): Python put this folder first on sys.path, but
    # imports need the folder that holds the package (and pki.py).
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from fake_gigachat.standalone import main  # noqa: E402

sys.exit(main())
