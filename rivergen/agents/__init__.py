"""Agents: PSA (Prompt Studio) and, later, MSA, DIA, GA and OSA."""
