"""Human feedback collection: ``nlf collect`` (terminal) and ``nlf serve`` (browser) share :mod:`.queue` (what
to ask), :mod:`.answers` (answers → records) and :mod:`.collector` (the output file, resuming, submission)."""

from nlfeedback.collect.answers import AnswerError, curve_from_points, make_record, parse_answer
from nlfeedback.collect.collector import AlreadyAnswered, Collector
from nlfeedback.collect.queue import Item, Segment, build_queue

__all__ = [
    "AlreadyAnswered", "AnswerError", "Collector", "Item", "Segment", "build_queue", "curve_from_points",
    "make_record", "parse_answer",
]
