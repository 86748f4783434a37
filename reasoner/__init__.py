"""The cptkb reasoner: input validation, grounding, solving and results."""

from .engine import Engine, default_engine, evaluate
from .errors import CptkbError, InvalidEncounter, KnowledgeBaseFault, MissingField
from .loader import KnowledgeBaseError
from .result import ClaimReview, CodeLine, Finding, Result

__all__ = [
    "Engine",
    "evaluate",
    "default_engine",
    "CptkbError",
    "InvalidEncounter",
    "MissingField",
    "KnowledgeBaseError",
    "KnowledgeBaseFault",
    "Result",
    "CodeLine",
    "Finding",
    "ClaimReview",
]
