"""The figure pack (components/export/pack.py) and the app side's command line (cli.py).

On a fully built small DB the pack writes every figure of `catalogue.PACK` as a non-empty
PNG and SVG whose caption (dataset, version, filters, n) is in the SVG text, and an
index.html whose every link resolves; an ingest-only DB gets notes for the figures it cannot
make; bad filters fail clearly. ``python cli.py figures|export`` have help that ends with an
example; ``export conversations`` writes one JSONL record per filtered conversation;
``python -m precompute figures`` points to cli.py.
"""

from __future__ import annotations

import html
import json
import re
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import polars as pl
import pytest

import cli
from components.export import pack as fp
from components.figures import catalogue
from components.filters import Filters
from tests.corpus import REPO, ingest_db, sample_or_demo


@pytest.fixture(scope="module")
def full_db(analysed_db) -> Path:
    """The shared sample through the real pipeline, with a fake embedder and reducer."""
    return analysed_db


@pytest.fixture(scope="module")
def ingest_only(tmp_path_factory) -> Path:
    return ingest_db(sample_or_demo(), tmp_path_factory.mktemp("pack_ingest") / "ingest.duckdb")


def _top_model(db: Path) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT model_name FROM conversations GROUP BY 1 "
                           "ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
    finally:
        con.close()


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if (tag, key) in (("a", "href"), ("img", "src")) and value:
                self.links.append(value)


def _svg_text(path: Path) -> str:
    """The SVG's visible text, unescaped, with line breaks (tspans) as spaces."""
    raw = path.read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", " ", raw))


@pytest.fixture(scope="module")
def pack(full_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("pack_out")
    model = _top_model(full_db)
    report = fp.render_pack(full_db, out, params={"model": [model]}, progress=False,
                            day="2026-11-26")
    return report, out, model


def test_pack_writes_every_figure_png_and_svg(pack):
    report, out, _ = pack
    assert not report.failed, [(i.key, i.failed) for i in report.failed]
    assert not report.skipped
    assert [i.key for i in report.items] == [s.key for s in catalogue.PACK]
    for item in report.items:
        assert set(item.files) == {"png", "svg"}, item.key
        for name in item.files.values():
            assert (out / name).stat().st_size > 500, name
        png = (out / item.files["png"]).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">I", png[16:20])[0] == 1200 * 3  # 3x of 1200 px
    expected = {"overview-numbers", "length-distribution", "domains", "reason-types",
                "reaction-types", "stage-dynamics-reasons", "stage-dynamics-reactions",
                "flow-reason-reason", "flow-reaction-reason", "semantic-shifts",
                "participants-age", "participants-gender", "participants-education",
                "participants-ai-frequency"}
    assert expected <= {i.key for i in report.items}


def test_every_figure_has_its_data_as_csv_beside_it(pack, full_db):
    """Each pack figure writes ``NN-key.csv`` with the numbers it draws: for the shares
    the stage, label, n, share and its interval; the counts add up to the DB's."""
    report, out, model = pack
    for item in report.items:
        assert item.data_file == item.files["png"].replace(".png", ".csv"), item.key
        text = (out / item.data_file).read_text(encoding="utf-8")
        assert text.startswith(f"# {item.caption}\n"), item.key
    stages = pl.read_csv(out / next(i.data_file for i in report.items
                                    if i.key == "stage-dynamics-reasons"), comment_prefix="#")
    assert {"stage", "label", "n", "share", "ci_lo", "ci_hi"} <= set(stages.columns)
    con = duckdb.connect(str(full_db), read_only=True)
    try:
        n_reasons = con.execute(
            "SELECT count(*) FROM thoughts t JOIN conversations c USING (conv_id) "
            "WHERE t.kind = 'reason' AND c.model_name = ?", [model]).fetchall()[0][0]
    finally:
        con.close()
    assert stages["n"].sum() == n_reasons
    ok = stages.filter(pl.col("share").is_not_null())
    assert (ok["ci_lo"] <= ok["share"] + 1e-9).all() and (ok["share"] <= ok["ci_hi"] + 1e-9).all()
    types = pl.read_csv(out / next(i.data_file for i in report.items if i.key == "reason-types"),
                        comment_prefix="#")
    assert types["n"].sum() == n_reasons and types["share"].sum() == pytest.approx(1.0)


def test_captions_are_in_every_svg(pack):
    report, out, model = pack
    for item in report.items:
        text = _svg_text(out / item.files["svg"])
        assert f"model: {model}" in item.caption and "2026-11-26" in item.caption
        for part in item.caption.split(" · "):  # a long caption wraps at " · "
            assert part in text, (item.key, part)
        assert "ThoughtTrace (Jin, Li, Xie, Fang" in text or "demo corpus" in text
        assert re.search(r"n = [\d,]+", text), item.key


def test_index_shows_every_figure_with_caption_and_links_resolve(pack):
    report, out, model = pack
    page = (out / "index.html").read_text(encoding="utf-8")
    parser = _Links()
    parser.feed(page)
    assert parser.links
    for link in parser.links:
        assert not link.startswith(("/", "http:", "https:", "file:")), link  # relative
        assert (out / link).is_file(), link
    for item in report.items:
        assert html.escape(item.caption) in page
        assert item.files["png"] in parser.links and item.files["svg"] in parser.links
        assert item.data_file in parser.links
    assert "@article{jin2026thoughttrace" in page


def test_pack_without_caption_and_on_ingest_only_db(ingest_only, tmp_path):
    report = fp.render_pack(ingest_only, tmp_path, caption=False, progress=False, scale=1,
                            only=("length-distribution", "domains", "semantic-shifts"))
    by_key = {i.key: i for i in report.items}
    assert by_key["domains"].skipped and by_key["semantic-shifts"].skipped
    assert not by_key["domains"].files and not report.failed
    svg = _svg_text(tmp_path / by_key["length-distribution"].files["svg"])
    assert "ThoughtTrace (Jin, Li" not in svg and "data sha256" not in svg
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "Skipped: the database has no topics" in page
    assert "semantic-shift tables" in page
    parser = _Links()
    parser.feed(page)
    assert all((tmp_path / link).is_file() for link in parser.links)


def test_bad_filters_and_missing_db_fail_clearly(full_db, tmp_path, capsys):
    with pytest.raises(fp.PackError, match="unknown model 'No Such Model'"):
        fp.render_pack(full_db, tmp_path, params={"model": ["No Such Model"]},
                       progress=False)
    model = _top_model(full_db)
    with pytest.raises(fp.PackError, match="no conversations match"):
        fp.render_pack(full_db, tmp_path, progress=False, filters=Filters(
            models=(model,), messages_min=10_000))
    code = cli.main(["figures", "--db", str(full_db), "--out", str(tmp_path / "x"),
                     "--model", "No Such Model", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown model" in err and "Traceback" not in err
    code = cli.main(["figures", "--db", str(tmp_path / "none.duckdb"), "--out",
                     str(tmp_path / "y")])
    assert code == 2 and "no database file" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_every_pack_figure_is_a_catalogue_entry():
    assert catalogue.PACK
    keys = [fig.key for fig in catalogue.PACK]
    assert len(set(keys)) == len(keys), "pack file names must be unique"
    for fig in catalogue.PACK:
        assert isinstance(fig.entry, catalogue.Entry), fig.key
        assert any(fig.entry is e for e in catalogue.ENTRIES), fig.key


# --------------------------------------------------------------------------- cli.py


def test_figures_command_help_has_an_example(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["figures", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out and "python cli.py figures" in out
    for option in ("--db", "--out", "--domain", "--model", "--provider", "--label",
                   "--no-caption"):
        assert option in out


@pytest.mark.parametrize("command", ["figures", "export"])
def test_cli_help_ends_with_an_example(command):
    done = subprocess.run([sys.executable, "cli.py", command, "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.rstrip().splitlines()
    start = max(i for i, line in enumerate(lines) if line.strip() == "example:")
    example = [line.strip() for line in lines[start + 1:]]
    assert example and example[0].startswith(f"python cli.py {command} "), example
    # nothing but the example's command lines (and their continuations) after it
    assert all(line.startswith(("python cli.py", "--")) for line in example), example


def test_precompute_figures_points_to_cli(capsys):
    from precompute.__main__ import main

    assert main(["figures"]) == 2
    err = capsys.readouterr().err
    assert "python cli.py figures" in err and "Traceback" not in err


def test_export_conversations_writes_one_record_per_filtered_conversation(ingest_only,
                                                                          tmp_path, capsys):
    model = _top_model(ingest_only)
    con = duckdb.connect(str(ingest_only), read_only=True)
    try:  # counted here in SQL, independently of `Filters.where`
        expected = sorted(r[0] for r in con.execute(
            "SELECT conv_id FROM conversations c WHERE model_name = ? AND EXISTS ("
            "SELECT 1 FROM thoughts t WHERE t.conv_id = c.conv_id AND t.kind = 'reason')",
            [model]).fetchall())
        reasons = [r[0] for r in con.execute(
            "SELECT code FROM labels WHERE kind = 'reason'").fetchall()]
        n_all = con.execute("SELECT count(*) FROM conversations").fetchone()[0]
    finally:
        con.close()
    assert 0 < len(expected) < n_all
    out = tmp_path / "sub" / "subset.jsonl"
    argv = ["export", "conversations", "--db", str(ingest_only), "--out", str(out),
            "--model", model]
    for code in reasons:
        argv += ["--label", code]
    assert cli.main(argv) == 0
    assert "wrote" in capsys.readouterr().err
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(expected)
    assert sorted(r["id"] for r in records) == expected
    assert {r["model_name"] for r in records} == {model}
    # no filter: every conversation
    everything = tmp_path / "all.jsonl"
    assert cli.main(["export", "conversations", "--db", str(ingest_only), "--out",
                     str(everything)]) == 0
    assert len(everything.read_text(encoding="utf-8").splitlines()) == n_all


def test_export_with_an_unknown_filter_value_exits_2_and_writes_nothing(ingest_only, tmp_path,
                                                                        capsys):
    out = tmp_path / "x.jsonl"
    code = cli.main(["export", "conversations", "--db", str(ingest_only), "--out", str(out),
                     "--model", "No Such Model"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown model 'No Such Model'" in err and "Traceback" not in err
    assert not out.exists()
    code = cli.main(["export", "thoughts", "--db", str(ingest_only), "--out", str(out),
                     "--label", "very_happy", "--msgs", "lots"])
    err = capsys.readouterr().err
    assert code == 2 and "'very_happy'" in err and "msgs='lots'" in err
    assert not out.exists()
    code = cli.main(["export", "conversations", "--db", str(tmp_path / "none.duckdb"),
                     "--out", str(out)])
    assert code == 2 and "python -m precompute build" in capsys.readouterr().err
    assert not out.exists()
