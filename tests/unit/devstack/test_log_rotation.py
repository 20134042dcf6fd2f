"""A start moves a component's big log aside to NAME.log.1; small logs keep growing."""

from __future__ import annotations

from pathlib import Path

from paylab.devstack.process import rotate_big_log


def test_a_log_past_the_limit_becomes_dot_one_replacing_the_one_before(tmp_path: Path) -> None:
    log = tmp_path / "payment.log"
    log.write_bytes(b"x" * 101)
    (tmp_path / "payment.log.1").write_bytes(b"older run")
    rotate_big_log(log, limit=100)
    assert not log.exists()
    assert (tmp_path / "payment.log.1").read_bytes() == b"x" * 101


def test_a_log_within_the_limit_stays(tmp_path: Path) -> None:
    log = tmp_path / "payment.log"
    log.write_bytes(b"x" * 100)
    rotate_big_log(log, limit=100)
    assert log.read_bytes() == b"x" * 100
    assert not (tmp_path / "payment.log.1").exists()


def test_no_log_yet_is_nothing_to_do(tmp_path: Path) -> None:
    rotate_big_log(tmp_path / "payment.log", limit=100)
    assert list(tmp_path.iterdir()) == []
