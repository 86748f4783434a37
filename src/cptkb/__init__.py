"""cptkb: CPT coding rules as answer-set programs, with the reasons for every code.

    >>> import cptkb
    >>> result = cptkb.evaluate({"id": "e1", "date_of_service": "2024-05-01",
    ...     "nerve_conduction": [{"nerve": "median", "side": "left", "study": "motor"}]})
    >>> [(c.code, c.units) for c in result.codes]
    [('95907', 1)]
"""

from importlib.metadata import PackageNotFoundError, version

from cptkb.reasoner import (
    ClaimReview,
    CodeLine,
    CptkbError,
    Engine,
    Finding,
    InvalidEncounter,
    KnowledgeBaseError,
    KnowledgeBaseFault,
    MissingField,
    Result,
    evaluate,
)

try:
    __version__ = version("cptkb")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "Engine",
    "evaluate",
    "Result",
    "CodeLine",
    "Finding",
    "ClaimReview",
    "CptkbError",
    "InvalidEncounter",
    "MissingField",
    "KnowledgeBaseError",
    "KnowledgeBaseFault",
    "__version__",
]
