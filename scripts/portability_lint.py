"""Portability lint of the dbt project: what a model writes must run on DuckDB, PostgreSQL and Spark.

Reads a compiled manifest (`dbt compile`, DuckDB target) and reports, per model:
- constructs only DuckDB has, written in the model itself rather than through a dispatched macro
  (the raw SQL with its Jinja blanked out): `::` casts, `qualify`, `group by all`, `select * exclude`,
  `interval 1 day`, bare `double`, DuckDB-only functions such as `date_diff`, `list_*`, `strftime`;
- in the compiled SQL, parsed with sqlglot: `max()`/`min()` over a boolean (Postgres has no such
  aggregate: use dbt.bool_or / dbt.bool_and), and SQL that sqlglot cannot carry to Postgres or Spark;
- names Postgres would cut: relation names (models, unit tests) over 63 characters;
- contract column types that do not exist on every adapter (`varchar` is not a Spark type: `string` is
  dbt's portable name for text).
Exit status 1 when anything is found, so `make check` fails.

    python scripts/portability_lint.py dbt_project/target/lint/manifest.json
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError

# Postgres truncates identifiers to NAMEDATALEN - 1 bytes; dbt refuses longer relation names there.
MAX_IDENTIFIER = 63

# Written in a model (outside Jinja), each of these runs on DuckDB only: the message says what to use.
RAW_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("cast-operator", re.compile(r"::"), "`::` casts are not Spark's: cast(x as type)"),
    ("qualify", re.compile(r"\bqualify\b", re.I), "`qualify` is not Postgres': filter a window in an outer query"),
    ("group-by-all", re.compile(r"\b(group|order)\s+by\s+all\b", re.I), "`group by all` is DuckDB's: name the columns"),
    ("star-modifier", re.compile(r"\*\s*(exclude|replace|rename)\s*\(", re.I), "`* exclude/replace` is DuckDB's"),
    ("bare-interval", re.compile(r"\binterval\s+\d+\s+\w+", re.I), "`interval 1 day` is DuckDB's: dbt.dateadd"),
    ("double-type", re.compile(r"\bdouble\b(?!\s+precision)", re.I), "`double` is not Postgres': type_double()"),
    ("varchar-type", re.compile(r"\bas\s+varchar\b", re.I), "cast to dbt.type_string(), not varchar"),
    (
        "duckdb-function",
        re.compile(
            r"\b(date_diff|datediff|date_add|date_sub|strftime|strptime|epoch\w*|range|list_\w+|struct_\w+|"
            r"regexp_matches|regexp_full_match|sha256|string_split\w*|string_agg|group_concat|arg_max|arg_min|"
            r"max_by|min_by|any_value|count_if|ifnull|iif|median|quantile\w*|today|make_date|make_timestamp|"
            r"try_cast|regexp_extract|contains|starts_with|ends_with|len)\s*\(",
            re.I,
        ),
        "a DuckDB-only function (or one spelled differently elsewhere): use dbt's cross-database macro or a"
        " dispatched macro in dbt_project/macros",
    ),
)
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_STRING = re.compile(r"'(?:[^']|'')*'")

# Portable contract types (dbt translates `string` per adapter; the others are spelled alike everywhere).
CONTRACT_TYPES = re.compile(r"(string|integer|int|bigint|boolean|date|timestamp|decimal\(\d+,\s*\d+\))", re.I)


@dataclass(frozen=True)
class Finding:
    node: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.node}: [{self.rule}] {self.message}"


def blank_jinja(raw: str) -> str:
    """The model's own SQL: Jinja, comments and string literals blanked (what a macro emits is its own)."""
    text = _JINJA.sub(" __jinja__ ", raw)
    text = _SQL_COMMENT.sub(" ", text)
    return _STRING.sub("''", text)


def raw_findings(node: str, raw: str) -> Iterator[Finding]:
    own = blank_jinja(raw)
    for rule, pattern, message in RAW_RULES:
        for match in pattern.finditer(own):
            yield Finding(node, rule, f"{match.group(0).strip()!r}: {message}")


def _is_boolean(expression: exp.Expression) -> bool:
    if isinstance(expression, exp.Paren):
        return _is_boolean(expression.this)
    if isinstance(expression, exp.Predicate | exp.Connector | exp.Not | exp.Boolean | exp.Is):
        return True
    if isinstance(expression, exp.Column):
        return expression.name.startswith(("is_", "has_"))
    if isinstance(expression, exp.Case):
        values = [branch.args["true"] for branch in expression.args.get("ifs", [])]
        if expression.args.get("default") is not None:
            values.append(expression.args["default"])
        real = [v for v in values if not isinstance(v, exp.Null)]
        return bool(real) and all(_is_boolean(v) for v in real)
    if isinstance(expression, exp.If):
        values = [v for v in (expression.args.get("true"), expression.args.get("false")) if v is not None]
        real = [v for v in values if not isinstance(v, exp.Null)]
        return bool(real) and all(_is_boolean(v) for v in real)
    return False


def compiled_findings(node: str, compiled: str) -> Iterator[Finding]:
    try:
        trees = [tree for tree in sqlglot.parse(compiled, read="duckdb") if tree is not None]
    except ParseError as error:
        yield Finding(node, "parse", f"sqlglot cannot parse the compiled SQL: {str(error).splitlines()[0]}")
        return
    for tree in trees:
        for aggregate in tree.find_all(exp.Max, exp.Min):
            if _is_boolean(aggregate.this):
                yield Finding(
                    node, "boolean-max", f"{aggregate.sql('duckdb')[:80]!r}: max/min over a boolean (dbt.bool_or)"
                )
        for dialect in ("postgres", "spark"):
            try:
                tree.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
            except UnsupportedError as error:
                yield Finding(node, f"not-{dialect}", str(error).splitlines()[0])


def manifest_findings(manifest: dict) -> list[Finding]:
    findings: list[Finding] = []
    for unique_id, node in sorted(manifest["nodes"].items()):
        if node.get("package_name") != manifest["metadata"].get("project_name", "dangol"):
            continue
        kind = node["resource_type"]
        if kind in ("model", "seed", "snapshot") and len(node.get("alias") or node["name"]) > MAX_IDENTIFIER:
            findings.append(Finding(unique_id, "name-length", f"longer than {MAX_IDENTIFIER} characters"))
        if kind != "model":
            continue
        findings.extend(raw_findings(unique_id, node.get("raw_code", "")))
        if node.get("compiled_code"):
            findings.extend(compiled_findings(unique_id, node["compiled_code"]))
        if node.get("contract", {}).get("enforced"):
            for column in node["columns"].values():
                data_type = (column.get("data_type") or "").strip()
                if not CONTRACT_TYPES.fullmatch(data_type):
                    findings.append(
                        Finding(unique_id, "contract-type", f"{column['name']}: {data_type!r} is not portable")
                    )
    for unique_id, test in sorted(manifest.get("unit_tests", {}).items()):
        if len(test["name"]) > MAX_IDENTIFIER:
            findings.append(Finding(unique_id, "name-length", f"longer than {MAX_IDENTIFIER} characters"))
    return findings


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    manifest = json.loads(Path(argv[1]).read_text())
    models = sum(node["resource_type"] == "model" for node in manifest["nodes"].values())
    findings = manifest_findings(manifest)
    for finding in findings:
        print(finding)
    print(f"portability lint: {models} models, {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
