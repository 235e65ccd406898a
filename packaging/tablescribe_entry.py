"""The bundle's one executable: ``tablescribe COMMAND ...`` as the installed command,
``tablescribe gui [FILE]`` for the window (what the bundle's desktop entry runs)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # batch --workers starts processes of this executable
    from app.cli import main

    sys.exit(main())
