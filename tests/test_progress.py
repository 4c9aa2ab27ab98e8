"""Progress: clean log lines every tenth of the way when stderr is not a terminal."""

import logging

from usae.progress import Progress


def test_logs_each_tenth_once(caplog):
    with caplog.at_level(logging.INFO, logger="usae.progress"):
        with Progress(50, "hash", unit="img") as progress:
            progress.set_postfix(loss=0.5)
            for _ in range(50):
                progress.update()
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 10
    assert lines[0] == "hash: 5/50 img (10%), loss 0.5" and lines[-1] == "hash: 50/50 img (100%), loss 0.5"


def test_resumed_progress_starts_at_its_initial_count(caplog):
    with caplog.at_level(logging.INFO, logger="usae.progress"):
        progress = Progress(10, "train", unit="step", initial=8)
        progress.update(2)
    assert [record.getMessage() for record in caplog.records] == ["train: 10/10 step (100%)"]
