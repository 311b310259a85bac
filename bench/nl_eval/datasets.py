"""The evaluation's datasets as a workspace would hold them: Arrow tables read by the platform's
own parser, and the prompt catalog the platform would build from them.

Every file ships inside an installed package, nothing is downloaded:

- ``northwind``: the Northwind Traders CSVs as published (``rivergen/demo/northwind``, the same
  files as ``../shared/data/northwind``), read as the demo reads them
  (``on_invalid_rows="skip"``: 176 orders, 24 customers and 9 suppliers with unquoted commas
  in their address are kept aside), one dataset per file named by its stem (``order-details``).
- ``penguins``: the Palmer Station penguins from the ``palmerpenguins`` package:
  ``penguins.csv`` (the cleaned table) and ``penguins-raw.csv`` (the LTER's raw table:
  clutch completion, egg dates, isotopes, comments).
- ``vega``: four local datasets of the ``vega_datasets`` package: ``seattle-weather.csv``,
  ``cars.json``, ``stocks.csv`` and ``airports.csv``. ``cars.json`` is a JSON array; the
  platform reads JSON Lines, so it is written one object a line first, as a user would.

The catalog is what ``rivergen.agents.prompt_studio.catalog.catalog_of`` builds for a workspace:
each table's columns and Arrow types, its description and tags, its row count, no declared keys,
and value hints from the dataset's profile as the platform computes it (``profile_column`` with
its defaults: ten top values, and every distinct value of a text column with at most a few
thousand) and reads it (``_hints``: a text column's kept values, or its top values when they are
all of its values), and the automatic first draft of the workspace's semantic layer
(:func:`rivergen.semantic.draft.draft_layer` over the catalog and the profiles) applied to it:
business names, synonyms, roles, measures and relationships, with nothing confirmed or written
by a person.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from rivergen.agents.prompt_studio.catalog import _hints
from rivergen.datasets.formats import ParseOptions, parse
from rivergen.demo.seed import DESCRIPTIONS as NORTHWIND_DESCRIPTIONS
from rivergen.demo.seed import NORTHWIND
from rivergen.quality import profile_column
from rivergen.semantic.catalog import apply_layer
from rivergen.semantic.draft import draft_layer
from rivergen.semantic.schemas import SemanticLayer
from rivergen.services.planning.catalog import CatalogColumn, CatalogTable, PromptCatalog

PENGUIN_DESCRIPTIONS = {
    # From the palmerpenguins package's documentation (load_penguins, load_penguins_raw).
    "penguins": "Size measurements for 344 adult Adelie, Chinstrap and Gentoo penguins observed "
    "on the islands Biscoe, Dream and Torgersen in the Palmer Archipelago, Antarctica: bill "
    "length and depth (mm), flipper length (mm), body mass (g), sex and study year.",
    "penguins-raw": "The Palmer Station LTER's raw penguin data: nesting observations (clutch "
    "completion, the date the nest was observed with one egg), size measurements, blood "
    "isotope ratios and comments, one row per sampled individual.",
}


HERE = Path(__file__).resolve().parent

# The version number the draft layer is applied under (no version of it was confirmed).
DRAFT_VERSION = 0


@dataclass(frozen=True)
class EvalDataset:
    """One workspace of the evaluation: its tables by dataset name, and its catalog."""

    name: str
    package: str
    tables: dict[str, pa.Table]
    catalog: PromptCatalog

    def by_id(self) -> dict[uuid.UUID, pa.Table]:
        """The tables by dataset id, as ``run_compiled`` takes them."""
        return {t.dataset_id: self.tables[t.name] for t in self.catalog.tables}


def package_dir(package: str) -> Path:
    """Where an installed package's files are, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"the package {package!r} is not installed (pip install it)")
    return Path(next(iter(spec.submodule_search_locations)))


def dataset_id(workspace: str, name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"rivergen-nl-eval:{workspace}:{name}")


def read_file(path: Path, *, skip_invalid: bool = False, data: bytes | None = None) -> pa.Table:
    """A file read by the platform's parser (format from its name)."""
    options = ParseOptions(on_invalid_rows="skip" if skip_invalid else "fail")
    return parse(path.read_bytes() if data is None else data, path.name, None, options).table


def profile_of(table: pa.Table) -> dict[str, Any]:
    """The dataset's profile as the platform keeps it (``profile_column`` with its defaults)."""
    return {
        "columns": [
            profile_column(c, table.column(c)).model_dump(mode="json") for c in table.column_names
        ]
    }


def hinted_columns(table: pa.Table, profile: dict[str, Any]) -> list[CatalogColumn]:
    """The catalog's columns with the value hints the platform reads from the kept profile."""
    hints = _hints(json.dumps(profile))
    return [
        CatalogColumn(
            name=name, type=str(table.schema.field(name).type), values=hints.get(name, [])
        )
        for name in table.column_names
    ]


def curated_addition(workspace: str) -> SemanticLayer | None:
    """What a person adds to the automatic draft (``<dataset>.curated.yaml`` beside this
    module, in the semantic layer's shape): synonyms of datasets and columns, and measures.
    None when there is no such file."""
    path = HERE / f"{workspace}.curated.yaml"
    if not path.exists():
        return None
    return SemanticLayer.model_validate(yaml.safe_load(path.read_text()))


def with_addition(draft: SemanticLayer, addition: SemanticLayer) -> SemanticLayer:
    """The draft with a person's addition: each dataset's and column's synonyms added to the
    drafted ones, and the addition's measures after the drafted ones (nothing else of the
    addition is read: roles, names and relationships stay the draft's)."""
    layer = draft.model_copy(deep=True)
    datasets = {d.name: d for d in layer.datasets}
    for added in addition.datasets:
        dataset = datasets[added.name]  # a name the draft does not have: the file is wrong
        dataset.synonyms = list(dict.fromkeys([*added.synonyms, *dataset.synonyms]))
        columns = {c.name: c for c in dataset.columns}
        for column in added.columns:
            found = columns[column.name]
            found.synonyms = list(dict.fromkeys([*column.synonyms, *found.synonyms]))
    layer.measures += addition.measures
    return layer


def catalog_of(
    workspace: str,
    tables: dict[str, pa.Table],
    descriptions: dict[str, str],
    tag: str,
    curated: bool = False,
) -> PromptCatalog:
    """The workspace's catalog with the automatic first draft of its semantic layer applied
    (as the spec asks: the draft only, nothing a person confirmed); with ``curated``, the
    draft and what a person adds to it (:func:`curated_addition`)."""
    profiles = {name: profile_of(table) for name, table in tables.items()}
    catalog = PromptCatalog(
        tables=[
            CatalogTable(
                dataset_id=dataset_id(workspace, name),
                version=1,
                name=name,
                description=descriptions.get(name, ""),
                tags=[tag],
                columns=hinted_columns(table, profiles[name]),
                row_count=table.num_rows,
            )
            for name, table in tables.items()
        ]
    )
    layer = draft_layer(catalog, profiles)
    addition = curated_addition(workspace) if curated else None
    if addition is not None:
        layer = with_addition(layer, addition)
    return apply_layer(catalog, layer, DRAFT_VERSION)


def northwind(curated: bool = False) -> EvalDataset:
    tables = {
        path.stem: read_file(path, skip_invalid=True) for path in sorted(NORTHWIND.glob("*.csv"))
    }
    return EvalDataset(
        "northwind",
        "rivergen (rivergen/demo/northwind)",
        tables,
        catalog_of("northwind", tables, NORTHWIND_DESCRIPTIONS, "northwind", curated),
    )


def penguins(curated: bool = False) -> EvalDataset:
    data = package_dir("palmerpenguins") / "data"
    tables = {name: read_file(data / f"{name}.csv") for name in ("penguins", "penguins-raw")}
    return EvalDataset(
        "penguins",
        "palmerpenguins",
        tables,
        catalog_of("penguins", tables, PENGUIN_DESCRIPTIONS, "penguins", curated),
    )


VEGA_FILES = ("seattle-weather.csv", "cars.json", "stocks.csv", "airports.csv")


def vega(curated: bool = False) -> EvalDataset:
    root = package_dir("vega_datasets")
    info = json.loads((root / "dataset_info.json").read_text())
    tables: dict[str, pa.Table] = {}
    for file in VEGA_FILES:
        path = root / "_data" / file
        name = path.stem
        if path.suffix == ".json":
            lines = "\n".join(json.dumps(row) for row in json.loads(path.read_text()))
            tables[name] = read_file(path.with_suffix(".jsonl"), data=lines.encode())
        else:
            tables[name] = read_file(path)
    # Each dataset's description is the first sentence of its documentation in the package.
    descriptions = {name: info[name]["description"].split(". ")[0] + "." for name in tables}
    return EvalDataset(
        "vega", "vega_datasets", tables, catalog_of("vega", tables, descriptions, "vega", curated)
    )


LOADERS: dict[str, Callable[..., EvalDataset]] = {
    "northwind": northwind,
    "penguins": penguins,
    "vega": vega,
}
