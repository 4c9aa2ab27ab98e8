"""Entry point of tests/sae/test_data_parallel.py's process tests: the train stage on the ranks torchrun starts,
or on those it starts itself (``ranks`` in TRAIN_JSON).

Usage: [torchrun --nproc-per-node N] tests/sae/torchrun_train.py STORES_JSON OUT TRAIN_JSON KIND
"""

import json
import logging
import sys
from pathlib import Path

from usae.config import validate_config
from usae.errors import one_line_on_user_error
from usae.options import TrainOptions
from usae.stages.train import train

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stores, out, options, kind = json.loads(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
    options = TrainOptions.from_config(validate_config({"train": options}, "torchrun test"))
    one_line_on_user_error(  # a UserError ends it as it ends a rule's job: one line, status 2
        train,
        [f"{path}/meta.json" for path in stores.values()],
        out / "model.safetensors",
        out / "model.json",
        out / "log.csv",
        kind=kind,
        options=options,
        seed=0,
    )
