"""Put this checkout's ``src/`` first on ``sys.path``, so rule scripts run its usae library, installed or not.

Snakemake puts the scripts' folder on the path of every rule script; each imports this module first.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
