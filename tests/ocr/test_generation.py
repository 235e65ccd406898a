"""Greedy decoding over a session whose rows finish at different steps: every row's
tokens, probabilities and score are its own, whether its finished neighbours are still
in the session or were dropped."""

from __future__ import annotations

import numpy as np

from ocr.generation import greedy

EOS, START, VOCAB = 2, 0, 9


class ScriptedSession:
    """Row r of sequence s emits script[s][t] at step t (EOS afterwards), as a model
    whose logits depend on the row's own history only. Counts the cache copies."""

    def __init__(self, scripts: list[list[int]]) -> None:
        self.scripts = scripts
        self.rows = list(range(len(scripts)))  # session row -> sequence
        self.t = 0
        self.selects = 0

    def step(self, last_tokens: np.ndarray) -> np.ndarray:
        assert len(last_tokens) == len(self.rows)
        logits = np.zeros((len(self.rows), VOCAB), dtype=np.float32)
        for i, seq in enumerate(self.rows):
            script = self.scripts[seq]
            tok = script[self.t] if self.t < len(script) else EOS
            logits[i, tok] = 5.0 + seq  # each sequence its own confidence
        self.t += 1
        return logits

    def select(self, rows: np.ndarray) -> None:
        self.rows = [self.rows[i] for i in rows]
        self.selects += 1


def test_rows_finishing_at_different_steps_keep_their_own_results():
    # sequence lengths 1..8 (EOS included): one row finishes at every step
    scripts = [[3 + (s + t) % 5 for t in range(s)] + [EOS] for s in range(8)]
    session = ScriptedSession(scripts)
    got = greedy(session, len(scripts), START, EOS, 20)
    for s, gen in enumerate(got):
        assert gen.tokens == scripts[s]
        p = np.exp(5.0 + s) / (np.exp(5.0 + s) + VOCAB - 1)
        np.testing.assert_allclose(gen.token_probs, [p] * len(scripts[s]), rtol=1e-4)
        np.testing.assert_allclose(gen.score, len(scripts[s]) * np.log(p), rtol=1e-3, atol=1e-5)
    # finished rows were dropped in a few copies, not one per finishing step
    assert 1 <= session.selects < 7


def test_decoding_stops_when_every_row_is_done():
    session = ScriptedSession([[5, EOS], [EOS]])
    got = greedy(session, 2, START, EOS, 50)
    assert [g.tokens for g in got] == [[5, EOS], [EOS]]
    assert session.t == 2
