"""Engine-less preview: run the program under mocks and the policy pack over its gRPC protocol."""

import os
import sys

from kmsguard import extras

_PROBLEM = extras.problem("kmsguard.preview", "preview")
if _PROBLEM is not None:
    # Started as a command (`kmsguard-preview`, or `python -m kmsguard.preview...`, whose
    # argv[0] is "-m" while the package is imported): one line and exit 2, not a traceback.
    _ARGV0 = sys.argv[0] if sys.argv else ""
    if _ARGV0 == "-m" or os.path.basename(_ARGV0) == "kmsguard-preview":
        print(f"kmsguard-preview: error: {_PROBLEM}", file=sys.stderr)
        raise SystemExit(2)
    raise ModuleNotFoundError(_PROBLEM)
