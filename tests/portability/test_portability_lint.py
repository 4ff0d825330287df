"""The portability lint finds each DuckDB-only construct a model writes itself, and passes what is portable."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def lint() -> ModuleType:
    spec = importlib.util.spec_from_file_location("portability_lint", PROJECT_ROOT / "scripts" / "portability_lint.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def manifest(raw: str, compiled: str | None = None, *, name: str = "m", columns: dict | None = None) -> dict:
    node = {
        "resource_type": "model",
        "package_name": "dangol",
        "name": name,
        "alias": name,
        "raw_code": raw,
        "compiled_code": raw if compiled is None else compiled,
        "contract": {"enforced": columns is not None},
        "columns": columns or {},
    }
    return {"metadata": {"project_name": "dangol"}, "nodes": {f"model.dangol.{name}": node}, "unit_tests": {}}


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("select max(x > 1) as has_x from t group by y", "boolean-max"),
        ("select max(case when a = 'b' then c = 'granted' end) as has_c from t", "boolean-max"),
        ("select min(is_paid) from t", "boolean-max"),
        ("select a::date from t", "cast-operator"),
        ("select a from t qualify row_number() over (order by a) = 1", "qualify"),
        ("select a, count(*) from t group by all", "group-by-all"),
        ("select * exclude (a) from t", "star-modifier"),
        ("select d + interval 1 day from t", "bare-interval"),
        ("select cast(a as double) from t", "double-type"),
        ("select cast(a as varchar) from t", "varchar-type"),
        ("select date_diff('day', a, b) from t", "duckdb-function"),
        ("select list_value(1, 2) from t", "duckdb-function"),
        ("select strftime(a, '%Y') from t", "duckdb-function"),
    ],
)
def test_each_duckdb_only_construct_is_found(lint: ModuleType, sql: str, rule: str) -> None:
    findings = lint.manifest_findings(manifest(sql))
    assert rule in {f.rule for f in findings}, findings


def test_portable_sql_and_what_macros_emit_pass(lint: ModuleType) -> None:
    raw = (
        "select {{ dbt.datediff('a', 'b', 'day') }} as days, cast(x as {{ type_double() }}) as x,\n"
        "  coalesce({{ dbt.bool_or('y > 1') }}, false) as has_y, max(case when z then d end) as last_d,\n"
        "  'qualify :: interval 1 day' as note -- group by all, max(x > 1)\n"
        "from t"
    )
    # the compiled form holds what the macros emit on DuckDB: that is theirs, not the model's
    compiled = (
        "select date_diff('day', a, b) as days, cast(x as double precision) as x,\n"
        "  coalesce(bool_or(y > 1), false) as has_y, max(case when z then d end) as last_d,\n"
        "  'qualify :: interval 1 day' as note from t"
    )
    assert lint.manifest_findings(manifest(raw, compiled)) == []


def test_long_names_and_unportable_contract_types_are_found(lint: ModuleType) -> None:
    long_name = "a_model_name_that_postgres_would_refuse_because_it_is_longer_than_63"
    columns = {
        "a": {"name": "a", "data_type": "varchar"},
        "b": {"name": "b", "data_type": "string"},
        "c": {"name": "c", "data_type": "decimal(12, 2)"},
    }
    findings = lint.manifest_findings(manifest("select 1 as a", name=long_name, columns=columns))
    assert [(f.rule, f.message.split(":")[0]) for f in findings] == [
        ("name-length", "longer than 63 characters"),
        ("contract-type", "a"),
    ]
