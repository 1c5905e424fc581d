"""Ten crash rounds as part of the test command: the real server is SIGKILLed at random
moments while Sift streams, line protocol and KairosDB writes run at once with live rules;
after every restart each acknowledged point reads back and each annotation exists exactly
once. `crash.py` describes the rounds and runs the full hundred."""

from __future__ import annotations

import random

from crash import run_rounds


def test_ten_crash_rounds_lose_nothing_acknowledged_and_annotate_once(sextant_process):
    seed = random.randrange(1 << 30)
    print(f"crash rounds seed {seed}")
    counts = run_rounds(sextant_process, rounds=10, seed=seed)
    assert all(n > 0 for n in counts.values()), counts
