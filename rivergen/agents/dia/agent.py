"""Decision Intelligence (DIA): score a case with a model, refine the outcome with the
workspace's guidelines, let hard limits overrule it, keep the decision and say why."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from rivergen.accounts.principal import RequestContext
from rivergen.agents.dia.ports import DecisionCompute
from rivergen.agents.dia.schemas import (
    AnalyzeRequest,
    DecisionPage,
    DecisionView,
    ScoredBy,
    SimulateRequest,
    SimulationView,
)
from rivergen.datasets import DatasetService
from rivergen.db import Database
from rivergen.errors import Forbidden, NotFound, ValidationFailed
from rivergen.events import Event, Topic, add_to_outbox
from rivergen.jsonvalues import json_value
from rivergen.notifications.events import DECISION_MADE
from rivergen.pagination import decode_cursor, encode_cursor
from rivergen.services.decisions import (
    Decision,
    DecisionExplanation,
    Guideline,
    GuidelineCreate,
    GuidelinePage,
    Guidelines,
    HardLimit,
    decide,
    store,
)
from rivergen.services.governance import Governed, role_of
from rivergen.services.governance.evaluation import shows_more
from rivergen.services.governance.service import load_record, record_of
from rivergen.services.ml import store as models_store
from rivergen.services.ml.schemas import FeatureContribution, Prediction, Predictor
from rivergen.settings import DecisionSettings

log = logging.getLogger(__name__)

SIMULATION_REQUESTED = "decision.simulation.requested"


@dataclass(frozen=True)
class Scored:
    """Scores of some rows, and who gave them."""

    predictions: list[Prediction] | None  # None: the baseline
    scores: list[float]
    scored_by: ScoredBy
    model_id: UUID
    version: int | None
    fallback: str | None


def _failure(model: UUID, exc: Exception) -> str:
    code = getattr(exc, "error_code", type(exc).__name__)
    return f"model {model} failed ({code}: {exc})"


def guideline_view(row: Any) -> Guideline:
    return Guideline(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        description=row["description"],
        thresholds=store.loads(row["thresholds"]),
        fallback_outcome=row["fallback_outcome"],
        rules=store.loads(row["rules"]),
        limits=store.loads(row["limits"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


def decision_view(row: Any) -> DecisionView:
    values = dict(row)
    values.pop("governance", None)
    for name in ("features", "rules_applied", "limits_hit", "explanation"):
        values[name] = store.loads(values[name])
    return DecisionView(**values)


def simulation_view(row: Any) -> SimulationView:
    values = dict(row)
    values.pop("requested_role", None)
    values.pop("governance", None)
    for name in ("result", "error"):
        values[name] = store.loads(values[name]) if values[name] is not None else None
    return SimulationView(**values)


def computed_under(row: Any) -> dict[UUID, Governed]:
    """The governance a decision or simulation was computed under: its creator's, of each
    dataset it read (the row's, the scoring model's training data). Kept before it was
    recorded: its dataset's, as if ungoverned (the strictest comparison)."""
    recorded = store.loads(row["governance"]) if row["governance"] is not None else None
    datasets = (
        [UUID(d) for d in recorded]
        if recorded is not None
        else [row["dataset_id"]]
        if row["dataset_id"] is not None
        else []
    )
    return load_record(recorded, datasets)


def _withheld_decision(view: DecisionView) -> DecisionView:
    """``view`` without what was computed from data (its case, scores, outcome, the rules
    and limits that applied to its features, its explanation)."""
    return view.model_copy(
        update={
            "features": {},
            "score": None,
            "adjusted_score": None,
            "outcome": None,
            "rules_applied": [],
            "limits_hit": [],
            "explanation": None,
            "data_withheld": True,
        }
    )


def _withheld_simulation(view: SimulationView) -> SimulationView:
    error = {"code": view.error.get("code")} if view.error is not None else None
    return view.model_copy(update={"result": None, "error": error, "data_withheld": True})


def guideline_not_found(guideline: UUID) -> NotFound:
    return NotFound(f"guideline {guideline} not found", code="guideline_not_found")


class DecisionAgent:
    """The DIA agent. ``predictor`` scores with the Machine Learning service (None: no model
    serves here, every case is scored by the baseline); ``compute`` reads dataset rows and runs
    simulations' blocks (None: only ``features`` can be analyzed)."""

    def __init__(
        self,
        db: Database,
        datasets: DatasetService,
        predictor: Predictor | None,
        settings: DecisionSettings,
        compute: DecisionCompute | None = None,
    ) -> None:
        self._db = db
        self._datasets = datasets
        self.predictor = predictor
        self._settings = settings
        self._compute = compute

    @property
    def settings(self) -> DecisionSettings:
        return self._settings

    @property
    def datasets(self) -> DatasetService:
        return self._datasets

    # Guidelines ------------------------------------------------------------------------

    async def create_guideline(self, context: RequestContext, body: GuidelineCreate) -> Guideline:
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            row = await store.insert_guideline(
                conn, uuid.uuid4(), workspace, body.model_dump(mode="json"), context.actor
            )
        return guideline_view(row)

    async def list_guidelines(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> GuidelinePage:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            rows = await store.page(conn, "decision_guidelines", decode_cursor(cursor), limit)
        return GuidelinePage(
            items=[guideline_view(r) for r in rows[:limit]],
            next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )

    async def delete_guideline(self, context: RequestContext, guideline: UUID) -> None:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            if not await store.delete_guideline(conn, guideline):
                raise guideline_not_found(guideline)

    async def guidelines(
        self, context: RequestContext, guideline: UUID | None
    ) -> tuple[UUID | None, Guidelines, list[HardLimit]]:
        """The set a decision uses: the one named, else the workspace's newest, else the
        default thresholds with no rules and no limits."""
        async with self._db.transaction(str(context.require_workspace())) as conn:
            if guideline is not None:
                row = await store.get_guideline(conn, guideline)
                if row is None:
                    raise guideline_not_found(guideline)
            else:
                row = await store.newest_guideline(conn)
        if row is None:
            return None, Guidelines(), []
        view = guideline_view(row)
        return view.id, view, list(view.limits)

    # Scoring ---------------------------------------------------------------------------

    async def score(
        self,
        context: RequestContext,
        model: UUID,
        version: int | str | None,
        rows: list[dict[str, Any]],
        *,
        explain: bool,
        fallback_model: UUID | None = None,
    ) -> Scored:
        """Score ``rows`` with ``model``; if it fails (not found, not deployed, unavailable),
        with ``fallback_model``; then with the constant baseline
        (``RIVERGEN_DECISIONS__BASELINE_SCORE``). Rows that do not fit the model (422) are the
        caller's error and are not scored by anything else."""
        reasons: list[str] = []
        candidates: list[tuple[UUID, int | str | None, ScoredBy]] = [(model, version, "model")]
        if fallback_model is not None:
            candidates.append((fallback_model, None, "fallback_model"))
        for candidate, wanted, scored_by in candidates:
            if self.predictor is None:
                reasons.append(f"no model is served here (model {candidate} not scored)")
                break
            try:
                predictions = await self.predictor.predict(
                    context, candidate, rows, version=wanted, explain=explain
                )
            except (ValidationFailed, Forbidden):
                raise  # the caller's rows, or the caller's policies: nothing else scores it
            except Exception as exc:  # any failure of the model: fall back, and say why
                log.warning("model %s failed: %s", candidate, exc)
                reasons.append(_failure(candidate, exc))
                continue
            return Scored(
                predictions,
                [p.score for p in predictions],
                scored_by,
                candidate,
                predictions[0].version if predictions else None,
                "; ".join(reasons) or None,
            )
        baseline = self._settings.baseline_score
        reasons.append(f"scored by the constant baseline {baseline}")
        return Scored(None, [baseline] * len(rows), "baseline", model, None, "; ".join(reasons))

    # Analyze ---------------------------------------------------------------------------

    async def _case(self, context: RequestContext, request: AnalyzeRequest) -> dict[str, Any]:
        if request.features is not None:
            return {k: json_value(v) for k, v in request.features.items()}
        assert request.dataset_id is not None
        if self._compute is None:
            raise ValidationFailed(
                "dataset rows cannot be read here; send `features`", code="compute_unavailable"
            )
        _, key = await self._datasets.version_key(
            context, request.dataset_id, request.dataset_version
        )
        governed = await self._datasets.governed(context, request.dataset_id)
        match = request.row_key
        row = await self._compute.find_row(
            key,
            governed,
            request.row_index,
            match.column if match else None,
            match.value if match else None,
        )
        if row is None:
            raise NotFound(
                f"dataset {request.dataset_id} has no such row", code="dataset_row_not_found"
            )
        return row

    async def analyze(self, context: RequestContext, request: AnalyzeRequest) -> DecisionView:
        """Decide on one case, keep the decision and emit ``decision.made`` (one transaction)."""
        workspace = context.require_workspace()
        guideline, guidelines, limits = await self.guidelines(context, request.guideline_id)
        features = await self._case(context, request)
        scored = await self.score(
            context,
            request.model_id,
            request.version,
            [features],
            explain=True,
            fallback_model=request.fallback_model_id,
        )
        decision = decide(scored.scores[0], features, guidelines, limits)
        contributions = scored.predictions[0].contributions if scored.predictions else []
        explanation = self._explain(decision, contributions, scored)
        used = await self.read_under(
            context, [request.dataset_id] if request.dataset_id else [], scored
        )
        governance = self._datasets.governance
        figures = not await governance.governs_anyone(workspace, used)
        async with self._db.transaction(str(workspace)) as conn:
            row = await store.insert_decision(
                conn,
                id=uuid.uuid4(),
                workspace_id=workspace,
                model_id=scored.model_id,
                model_version=scored.version,
                scored_by=scored.scored_by,
                guideline_id=guideline,
                dataset_id=request.dataset_id,
                row_index=request.row_index,
                features=features,
                score=decision.score,
                adjusted_score=decision.adjusted_score,
                outcome=decision.outcome,
                rules_applied=[r.model_dump() for r in decision.rules_applied],
                limits_hit=[r.model_dump() for r in decision.limits_hit],
                explanation=explanation.model_dump(mode="json"),
                created_by=context.actor,
                governance=record_of(used, every=True),
            )
            view = decision_view(row)
            # To every member: no outcome or score of data policies govern for anyone.
            data: dict[str, Any] = {
                "decision_id": str(view.id),
                "model_id": str(view.model_id),
                "scored_by": view.scored_by,
            }
            if figures:
                data |= {
                    "outcome": view.outcome,
                    "score": view.score,
                    "limits_hit": [h.name for h in view.limits_hit],
                    "summary": explanation.summary,
                }
            await add_to_outbox(
                conn,
                Topic.MODELS,
                Event(
                    type=DECISION_MADE,
                    workspace_id=workspace,
                    actor=context.actor,
                    data=data,
                ),
            )
        return view

    async def read_under(
        self, context: RequestContext, datasets: Sequence[UUID], scored: Scored
    ) -> dict[UUID, Governed]:
        """The caller's governance of what a decision over ``datasets`` scored by ``scored``
        read: those datasets, and the scoring model version's training dataset."""
        read = list(datasets)
        if scored.scored_by != "baseline" and scored.version is not None:
            async with self._db.transaction(str(context.require_workspace())) as conn:
                version = await models_store.version_row(conn, scored.model_id, scored.version)
            if version is not None:
                read.append(version["dataset_id"])
        return await self._datasets.governance.governed(context, read)

    async def _shown(self, context: RequestContext, rows: Sequence[Any]) -> list[DecisionView]:
        """Decisions as the caller may see them: the data of those computed under policies
        that hid less than the caller's left out."""
        under = [computed_under(r) for r in rows]
        reader = await self._datasets.governance.governed(context, {d for u in under for d in u})
        return [
            _withheld_decision(decision_view(r))
            if any(shows_more(reader[d], g, None) for d, g in u.items())
            else decision_view(r)
            for r, u in zip(rows, under, strict=True)
        ]

    async def simulation_shown(self, context: RequestContext, row: Any) -> SimulationView:
        """A simulation as the caller may see it: its result left out if computed under
        policies that hid less than the caller's; its listed outcomes at most the caller's
        row limit."""
        view = simulation_view(row)
        if view.result is None and view.error is None:
            return view  # nothing computed yet
        under = computed_under(row)
        reader = await self._datasets.governance.governed(context, under)
        if any(shows_more(reader[d], g, None) for d, g in under.items()):
            return _withheld_simulation(view)
        limits = [g.max_rows for g in reader.values() if g.max_rows is not None]
        result = view.result
        if limits and result is not None and result.row_outcomes is not None:
            capped = result.model_copy(update={"row_outcomes": result.row_outcomes[: min(limits)]})
            view = view.model_copy(update={"result": capped})
        return view

    def _explain(
        self, decision: Decision, contributions: Sequence[FeatureContribution], scored: Scored
    ) -> DecisionExplanation:
        top = sorted(contributions, key=lambda c: abs(c.contribution), reverse=True)
        summary = decision.explanation
        if scored.fallback:
            summary = f"{summary} ({scored.fallback})"
        return DecisionExplanation(
            summary=summary,
            top_contributions=top[: self._settings.top_contributions],
            rules_applied=decision.rules_applied,
            limits_hit=decision.limits_hit,
            fallback=scored.fallback,
        )

    async def list_decisions(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> DecisionPage:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            rows = await store.page(conn, "decisions", decode_cursor(cursor), limit)
        return DecisionPage(
            items=await self._shown(context, rows[:limit]),
            next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )

    async def get_decision(self, context: RequestContext, decision: UUID) -> DecisionView:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            row = await store.get(conn, "decisions", decision)
        if row is None:
            raise NotFound(f"decision {decision} not found", code="decision_not_found")
        return (await self._shown(context, [row]))[0]

    # Simulate --------------------------------------------------------------------------

    async def simulate(self, context: RequestContext, request: SimulateRequest) -> SimulationView:
        """Queue a simulation (a ``decision.simulation.request`` event, in the transaction that
        records it); a simulation worker runs it. 404 for an unknown dataset or guideline set;
        403 ``dataset_denied`` if the caller may not read the dataset."""
        workspace = context.require_workspace()
        await self._datasets.version_key(context, request.dataset_id, None)
        await self._datasets.governed(context, request.dataset_id)
        # The set is fixed now (the newest, by default), not when the worker gets to it.
        guideline, _, _ = await self.guidelines(context, request.guideline_id)
        async with self._db.transaction(str(workspace)) as conn:
            row = await store.insert_simulation(
                conn,
                id=uuid.uuid4(),
                workspace_id=workspace,
                model_id=request.model_id,
                model_version=str(request.version) if request.version is not None else None,
                dataset_id=request.dataset_id,
                guideline_id=guideline,
                requested_role=role_of(context),
                created_by=context.actor,
            )
            await add_to_outbox(
                conn,
                Topic.DECISION_SIMULATION_REQUEST,
                Event(
                    type=SIMULATION_REQUESTED,
                    workspace_id=workspace,
                    actor=context.actor,
                    data={"simulation_id": str(row["id"])},
                ),
            )
        return simulation_view(row)

    async def get_simulation(self, context: RequestContext, simulation: UUID) -> SimulationView:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            row = await store.get(conn, "decision_simulations", simulation)
        if row is None:
            raise NotFound(f"simulation {simulation} not found", code="simulation_not_found")
        return await self.simulation_shown(context, row)
