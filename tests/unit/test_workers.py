"""`up`'s worker process: the relay and the consumers share one process and one log."""

from __future__ import annotations

from pathlib import Path

from paylab.devstack.process import ProcessManager
from paylab.devstack.workers import MERGED, WORKER_PROCESS, WORKERS, link_logs


def test_one_process_runs_the_relay_and_the_consumers() -> None:
    assert WORKERS == {WORKER_PROCESS: "paylab.core.worker"}
    assert set(MERGED) == {"outbox-relay", "consumers"}


def test_the_merged_names_show_the_workers_log(tmp_path: Path) -> None:
    manager = ProcessManager(tmp_path)
    manager.log_dir.mkdir()
    manager.log_file("consumers").write_text("from the old consumers process\n")
    manager.log_file(WORKER_PROCESS).write_text('{"event": "consumers.started"}\n')
    link_logs(manager)
    link_logs(manager)  # again, as every `up` does: nothing changes
    for name in MERGED:
        assert manager.log_file(name).is_symlink()
        assert manager.log_file(name).read_text() == '{"event": "consumers.started"}\n'
