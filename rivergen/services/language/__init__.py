"""Language & Explanation: a plain-language account of what a prompt's execution did."""

from rivergen.services.language.explain import explain
from rivergen.services.language.schemas import Explanation
from rivergen.services.language.service import ExplanationService

__all__ = ["Explanation", "ExplanationService", "explain"]
