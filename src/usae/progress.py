"""Progress of long loops: a live bar in a terminal, a clean line every tenth of the way in a log file."""

import logging
import sys

from tqdm import tqdm


class Progress:
    """Count work done; show a tqdm bar when stderr is a terminal, else log ``desc: n/total (p%)`` lines.

    Parameters
    ----------
    total : int
        Units of work (images, steps, batches).
    desc : str
        What is counted, e.g. ``"extract dinov2"``.
    unit : str
    initial : int
        Units already done (a resumed run).
    logger : logging.Logger, optional
    """

    def __init__(self, total, desc, unit="it", initial=0, logger=None):
        self.total, self.desc, self.unit, self.done = total, desc, unit, initial
        self.postfix = {}
        self.logger = logger or logging.getLogger("usae.progress")
        self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit) if sys.stderr.isatty() else None
        self._next_tenth = self._tenth(initial) + 1

    def _tenth(self, done):
        return 10 * done // max(self.total, 1)

    def set_postfix(self, **values):
        """Values shown after the count from now on, e.g. ``loss="0.1234"``."""
        self.postfix = values
        if self.bar is not None:
            self.bar.set_postfix(values, refresh=False)

    def update(self, count=1):
        """Add ``count`` units of work done."""
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
        elif self._tenth(self.done) >= self._next_tenth:
            self._next_tenth = self._tenth(self.done) + 1
            extra = "".join(f", {key} {value}" for key, value in self.postfix.items())
            self.logger.info(
                "%s: %d/%d %s (%d%%)%s",
                self.desc,
                self.done,
                self.total,
                self.unit,
                100 * self.done // max(self.total, 1),
                extra,
            )

    def close(self):
        """Finish the bar (in a terminal)."""
        if self.bar is not None:
            self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
