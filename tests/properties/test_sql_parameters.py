"""Every user value that reaches SQL is a parameter.

A corpus whose model names, domains, subtopics, participant answers, conversation ids and
texts are SQL metacharacters goes through every filter (`Filters.where` via the query
functions), the keyword search and the URL (AppTest): the conversation named with the
metacharacters is found, only it, and the tables are intact. A static check keeps
f-string SQL in components/ to fixed identifiers and SQL fragments built in code.
"""

from __future__ import annotations

import ast
import re

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from components.filters import Filters
from components.queries import conversations as browse
from components.queries import core, overview
from tests.apptest import open_app
from tests.corpus import REPO, conversation, ingest_db, write_jsonl

META = ["'", '"', ";", "--", "%", "_", "\\", "' OR 1=1 --",
        "Robert'); DROP TABLE conversations;--"]
N_PLAIN = 3


def conv_id(k: int) -> str:
    return f"user{k}_{META[k]}"


def _corpus() -> list[dict]:
    recs = []
    for k, m in enumerate(META):
        recs.append(conversation(
            conv_id(k), [(f"text with {m} inside (#{k})", ["task_motivation"]),
                         ("plain answer", ["explicit_affirmation"])],
            model=m, provider=f"prov{m}", summary=m,
            survey=[{"age": "30", "gender": m, "education": m, "occupation": m,
                     "frequency": "3", "purposes": m}]))
    for j in range(N_PLAIN):
        recs.append(conversation(f"user{100 + j}_plain", [("hello there", ["task_motivation"]),
                                                          ("hi", [])],
                                 model="GPT-5.4", provider="OpenAI"))
    return recs


@pytest.fixture(scope="module")
def meta_db(tmp_path_factory):
    d = tmp_path_factory.mktemp("sqlmeta")
    src = write_jsonl(d / "meta.jsonl", _corpus())
    db = d / "meta.duckdb"
    ingest_db(src, db)
    # domains / subtopics come from the topics stage: set them to the metacharacters too
    con = duckdb.connect(str(db))
    for k, m in enumerate(META):
        con.execute("UPDATE conversations SET domain = ?, subtopic = ? WHERE conv_id = ?",
                    [m, m + "/sub", conv_id(k)])
    con.execute("UPDATE conversations SET domain = 'Plain', subtopic = 'Plain/sub' "
                "WHERE domain IS NULL")
    con.close()
    return db


def _snapshot(con) -> dict:
    return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0]
            for t in ("conversations", "messages", "thoughts", "labels", "provenance",
                      "meta")}


@pytest.fixture
def con(meta_db):
    c = duckdb.connect(str(meta_db), read_only=True)
    before = _snapshot(c)
    yield c
    assert _snapshot(c) == before  # nothing dropped, nothing changed
    c.close()


FIELD_VALUE = {"domains": lambda m: m, "subtopics": lambda m: m + "/sub",
               "models": lambda m: m, "providers": lambda m: f"prov{m}",
               "genders": lambda m: m, "educations": lambda m: m}


@pytest.mark.parametrize("k", range(len(META)), ids=[repr(m) for m in META])
@pytest.mark.parametrize("field", sorted(FIELD_VALUE))
def test_every_facet_filter_finds_exactly_the_metachar_conversation(con, k, field):
    f = Filters(**{field: (FIELD_VALUE[field](META[k]),)})
    want = (conv_id(k),)
    assert browse.matches(con, f)["ids"] == want
    assert browse.conv_ids(con, f) == want
    assert core.count_conversations(con, f) == 1
    t = core.totals(con, f)
    assert (t["conversations"], t["messages"], t["thoughts"]) == (1, 2, 2)
    per_model = overview.per_model(con, f)
    assert per_model["model"].to_list() == [META[k]]
    # counts per facet value with this filter removed: every value counted once
    counts = core.sidebar_facet_counts(con, f, (field,))[field]
    n = dict(zip(counts["value"].to_list(), counts["n"].to_list()))
    assert n[FIELD_VALUE[field](META[k])] == 1
    # several metacharacter values at once (IN list of parameters)
    both = Filters(**{field: (FIELD_VALUE[field](META[k]),
                              FIELD_VALUE[field](META[(k + 1) % len(META)]))})
    assert set(browse.matches(con, both)["ids"]) == {conv_id(k), conv_id((k + 1) % len(META))}


def _expected_keyword(con, keyword: str) -> set[str]:
    """Conversations with a message or thought containing ``keyword`` (case-insensitive),
    computed in Python, not SQL."""
    kw = keyword.lower()
    rows = con.execute("SELECT conv_id, content FROM messages UNION ALL "
                       "SELECT conv_id, content FROM thoughts").fetchall()
    return {c for c, text in rows if text is not None and kw in text.lower()}


@pytest.mark.parametrize("keyword", META + ["1=1", "%%", "_%", "\\%", "(#3)"])
def test_keyword_search_treats_metacharacters_literally(con, keyword):
    want = _expected_keyword(con, keyword)
    got = browse.matches(con, Filters(), keyword)
    assert set(got["ids"]) == want
    n, hits = browse.count_matches(con, Filters(), keyword)
    assert n == len(want) and hits == got["n_hits"]
    assert browse.conversation_page(con, Filters(), keyword).height == len(want)
    if keyword in ("%", "_"):
        # a LIKE wildcard must not match everything
        assert len(want) < len(META) + N_PLAIN


def test_conversation_ids_and_labels_with_metacharacters(con):
    for k in range(len(META)):
        data = browse.transcript_data(con, conv_id(k))
        assert data["conv"]["conv_id"] == conv_id(k) and len(data["messages"]) == 2
    for bad in META + ["user0_' OR '1'='1"]:
        if bad not in {conv_id(k) for k in range(len(META))}:
            assert browse.transcript_data(con, bad) is None
    # labels are parameters too: an unknown label matches nothing, breaks nothing
    for m in META:
        assert browse.matches(con, Filters(labels_any=(m,)))["ids"] == ()
        assert browse.matches(con, Filters(seq_first=m, seq_then=m))["ids"] == ()
    # sort keys never reach SQL unless they are in the fixed table
    for m in META:
        ids = browse.matches(con, Filters(), "", m, True)["ids"]
        assert len(ids) == len(META) + N_PLAIN
    # item ids (semantic search results) are parameters
    assert browse.item_texts(con, tuple(f"m:{conv_id(k)}:1" for k in range(len(META)))
                             ).height == len(META)


# ------------------------------------------------------------------ through the URL

def _open(db, monkeypatch, **params) -> AppTest:
    """The Conversations page at the URL parameters: no exception, no error at all."""
    at = open_app(db, monkeypatch, "conversations", **params)
    assert not at.error, [e.value for e in at.error]
    return at


def _listed(at: AppTest) -> list[str]:
    frames = [df.value for df in at.dataframe if "conversation" in df.value.columns]
    return list(frames[0]["conversation"]) if frames else []


@pytest.mark.parametrize("k", range(len(META)), ids=[repr(m) for m in META])
def test_metacharacters_through_the_url(meta_db, monkeypatch, k):
    m = META[k]
    at = _open(meta_db, monkeypatch, model=m, gender=m, domain=m, conv=conv_id(k),
               q=f"#{k})")
    assert _listed(at) == [conv_id(k)]
    assert len(at.chat_message) == 2
    assert at.sidebar.multiselect(key="f_models").value == [m]
    # the URL keeps the exact values
    qp = at.query_params
    assert qp["model"] in (m, [m]) and qp["conv"] in (conv_id(k), [conv_id(k)])
    # a label / sequence / range made of metacharacters is dropped with a notice
    at = _open(meta_db, monkeypatch, label=m, seq=f"{m}>{m}", msgs=m)
    assert len(_listed(at)) == len(META) + N_PLAIN
    notes = " ".join(c.value for c in at.sidebar.caption)
    assert "ignored unknown label" in notes and "ignored seq" in notes


def test_tables_intact_after_the_url_runs(meta_db):
    c = duckdb.connect(str(meta_db), read_only=True)
    try:
        assert _snapshot(c)["conversations"] == len(META) + N_PLAIN
        assert c.execute("SELECT count(*) FROM messages").fetchone()[0] == \
            2 * (len(META) + N_PLAIN)
    finally:
        c.close()


# ------------------------------------------------------------------ static check

SQL_WORDS = re.compile(r"\b(SELECT|FROM|WHERE|JOIN|INSERT|UPDATE|DELETE|ORDER BY|GROUP BY|"
                       r"LIMIT|HAVING|UNION)\b")
#: Names that hold SQL built in code (fragments, identifiers, WHERE clauses of `Filters`).
ALLOWED_NAMES = {"where", "alias", "expr", "e", "col", "cols", "columns", "esc", "sql",
                 "cond", "join", "join_pos", "pos_cte", "color_sql", "sides_cte", "where_a",
                 "where_b"}
#: Functions that return fixed SQL (an ORDER BY from a fixed table, a timestamp format).
ALLOWED_FUNCS = {"_order", "_ts", "_member_conv_sql"}


def _is_constant_name(name: str) -> bool:
    return name.lstrip("_").isupper() or name.lstrip("_").replace("_", "").isupper()


def _allowed(expr: ast.expr, comp_vars: frozenset = frozenset()) -> bool:
    if isinstance(expr, ast.Constant):
        return True
    if isinstance(expr, ast.Name):
        return expr.id in ALLOWED_NAMES or _is_constant_name(expr.id) or expr.id in comp_vars
    if isinstance(expr, ast.BinOp):
        return _allowed(expr.left, comp_vars) and _allowed(expr.right, comp_vars)
    if isinstance(expr, ast.Subscript):  # a lookup in a fixed table: SPLITS[split]
        base = expr.value
        return isinstance(base, ast.Name) and _is_constant_name(base.id)
    if isinstance(expr, ast.Attribute):  # SPLITS[split].sql
        return _allowed(expr.value, comp_vars)
    if isinstance(expr, ast.Call):
        f = expr.func
        if isinstance(f, ast.Name) and f.id in ALLOWED_FUNCS:
            return True
        if isinstance(f, ast.Attribute) and f.attr == "join" and \
                isinstance(f.value, ast.Constant) and len(expr.args) == 1:
            arg = expr.args[0]
            if isinstance(arg, (ast.GeneratorExp, ast.ListComp)):
                names = frozenset(n.id for g in arg.generators for n in ast.walk(g.target)
                                  if isinstance(n, ast.Name))
                # the joined pieces are built from constants / allowed names only
                # ('?' placeholders, 'c.' + column); what is iterated only sets the count
                return _allowed(arg.elt, comp_vars | names)
            return _allowed(arg, comp_vars)
    return False


def sql_fstring_violations(source: str, name: str = "<src>") -> list[str]:
    """f-strings that look like SQL and interpolate something that is not a fixed
    identifier / code-built fragment, or put any non-constant inside quotes."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.JoinedStr):
            continue
        parts = node.values
        literal = "".join(v.value for v in parts if isinstance(v, ast.Constant))
        if not SQL_WORDS.search(literal):
            continue
        for i, v in enumerate(parts):
            if not isinstance(v, ast.FormattedValue):
                continue
            code = ast.unparse(v.value)
            before = parts[i - 1].value if i > 0 and isinstance(parts[i - 1], ast.Constant) \
                else ""
            quoted = before.rstrip().endswith("'")
            if quoted and not (isinstance(v.value, ast.Name) and
                               _is_constant_name(v.value.id)):
                out.append(f"{name}:{node.lineno}: '{{{code}}}' quotes a value into SQL")
            elif not _allowed(v.value):
                out.append(f"{name}:{node.lineno}: {{{code}}} is not a fixed identifier")
    return out


def test_no_fstring_sql_interpolates_user_values():
    found = []
    paths = sorted((REPO / "components").rglob("*.py"))
    assert len(paths) > 20  # every wing: queries, figures, export, ui
    for path in paths:
        name = str(path.relative_to(REPO / "components"))
        found += sql_fstring_violations(path.read_text(encoding="utf-8"), name)
    assert found == []


@pytest.mark.parametrize("bad", [
    "con.execute(f\"SELECT * FROM conversations WHERE model_name = '{user}'\")",
    "con.execute(f\"SELECT * FROM conversations WHERE n_messages > {value}\")",
    "sql = f\"SELECT * FROM t WHERE conv_id = '{filters.models[0]}'\"",
    "q = f\"SELECT * FROM t WHERE x IN ({', '.join(values)})\"",
    "q = f\"SELECT * FROM t WHERE x LIKE '%{keyword}%'\"",
])
def test_static_check_catches_interpolated_values(bad):
    assert sql_fstring_violations(bad)


@pytest.mark.parametrize("good", [
    "con.execute(f\"SELECT count(*) FROM conversations c WHERE {where}\", params)",
    "q = f\"SELECT x FROM t WHERE a IN ({', '.join('?' for _ in values)})\"",
    "q = f\"SELECT {', '.join('c.' + c for c in cols)} FROM t ORDER BY {_order(s, d)}\"",
    "q = f\"SELECT coalesce(domain, '{NO_DOMAIN}') FROM t WHERE {where}\"",
])
def test_static_check_accepts_fixed_sql(good):
    assert sql_fstring_violations(good) == []
