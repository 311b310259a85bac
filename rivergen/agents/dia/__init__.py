"""Decision Intelligence (DIA): decisions from a model's score, refined by the workspace's
guidelines and overruled by its hard limits, each kept with its explanation; simulations of a
guideline set over a whole dataset through ``decision.simulation.request`` / ``.result``."""

from rivergen.agents.dia.agent import DecisionAgent, Scored
from rivergen.agents.dia.ports import BlockOutcome, DecisionCompute, StagedRows
from rivergen.agents.dia.schemas import (
    AnalyzeRequest,
    DecisionPage,
    DecisionView,
    RowKey,
    SimulateRequest,
    SimulationResult,
    SimulationView,
)
from rivergen.agents.dia.simulation import SimulationRunner, SimulationWorker

__all__ = [
    "AnalyzeRequest",
    "BlockOutcome",
    "DecisionAgent",
    "DecisionCompute",
    "DecisionPage",
    "DecisionView",
    "RowKey",
    "Scored",
    "SimulateRequest",
    "SimulationResult",
    "SimulationRunner",
    "SimulationView",
    "SimulationWorker",
    "StagedRows",
]
