"""Remarks an interpreter must not read anything into: gibberish, empty-ish and off-topic text.

Used as ``none`` training examples for the trained interpreter (and in tests). Gibberish is generated
(random letter strings and keyboard mash); off-topic sentences are composed from everyday subjects that
have nothing to do with a gridworld agent.
"""

from __future__ import annotations

import numpy as np

_SUBJECTS = ["my sister", "the weather", "this coffee", "our team", "the train", "the new phone", "dinner",
             "the meeting", "my cat", "the movie", "this song", "the printer", "the garden", "the bakery",
             "my landlord", "the exam", "the football match", "the concert", "the museum", "the soup"]
_PREDICATES = ["is lovely today", "was delayed again", "tastes a bit odd", "starts at nine", "needs a new battery",
               "was on the news", "is closed on sundays", "made me laugh", "costs too much", "is really loud",
               "looks like rain", "was sold out", "keeps crashing", "smells amazing", "got cancelled",
               "is my favourite", "ran late", "was boring", "is in the fridge", "won the cup"]
_QUESTIONS = ["what time is it", "where did I park the car", "who wants pizza", "is it raining outside",
              "can you send me the report", "did you see the game last night", "how do I reset my password",
              "what's for lunch", "when does the shop open", "have you fed the dog"]
_KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"


def gibberish(rng: np.random.Generator) -> str:
    kind = int(rng.integers(4))
    if kind == 0:
        return "".join(rng.choice(list(_KEYBOARD), size=int(rng.integers(3, 12))))
    if kind == 1:
        words = ["".join(rng.choice(list(_KEYBOARD), size=int(rng.integers(2, 8)))) for _ in range(int(rng.integers(2, 6)))]
        return " ".join(words)
    if kind == 2:
        return "".join(rng.choice(list("!?.,;:#@*&%$0123456789"), size=int(rng.integers(1, 8))))
    return "lorem ipsum dolor sit amet" if rng.random() < 0.5 else "asdf " * int(rng.integers(1, 4))


def off_topic(rng: np.random.Generator) -> str:
    if rng.random() < 0.3:
        return str(rng.choice(_QUESTIONS)) + "?"
    return f"{rng.choice(_SUBJECTS)} {rng.choice(_PREDICATES)}"


def abstain_texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [gibberish(rng) if i % 2 else off_topic(rng) for i in range(n)]
