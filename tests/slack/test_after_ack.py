"""Work after an ack waits its turn: while requests are in flight it waits (their acks come
first), at most its deferral; then it is done, once."""

from __future__ import annotations

import threading

from bot.after_ack import AfterAck, Traffic


def test_work_after_an_ack_waits_for_the_requests_in_flight_then_runs_once() -> None:
    traffic = Traffic(defer=3600)
    later = AfterAck(traffic=traffic)
    runs: list[int] = []
    ran = threading.Event()
    traffic.arrived()
    traffic.arrived()
    assert later.offer(lambda: (runs.append(1), ran.set()))

    traffic.left()
    assert not ran.wait(0.3)  # one request still in flight
    traffic.left()
    assert ran.wait(10)
    later.close()
    assert runs == [1]


def test_work_after_an_ack_runs_after_its_deferral_when_requests_never_pause() -> None:
    later = AfterAck(traffic=Traffic(defer=0.2))
    ran = threading.Event()
    later.traffic.arrived()  # and never leaves

    assert later.offer(ran.set)
    assert ran.wait(10)
    later.close()


def test_without_a_server_counting_no_request_is_ever_in_flight() -> None:
    traffic = Traffic(defer=3600)
    traffic.wait_turn(since=0.0)  # returns at once

    assert traffic.in_flight == 0
