"""Human feedback collection: ``nlf collect`` (terminal) and ``nlf serve`` (browser) share :mod:`.session`."""

from nlfeedback.collect.session import (
    AlreadyAnswered,
    AnswerError,
    Collector,
    Item,
    Segment,
    build_queue,
    curve_from_points,
    make_record,
    parse_answer,
)

__all__ = [
    "AlreadyAnswered", "AnswerError", "Collector", "Item", "Segment", "build_queue", "curve_from_points",
    "make_record", "parse_answer",
]
