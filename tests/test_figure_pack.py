"""The figure pack (`python -m precompute figures`): on a fully built small DB it writes
every figure as a non-empty PNG and SVG whose caption (dataset, version, filters, n) is in
the SVG text, and an index.html whose every link resolves; an ingest-only DB gets notes
for the figures it cannot make; bad filters fail clearly; the command has an example."""

from __future__ import annotations

import html
import re
import struct
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from components import figure_pack as fp
from components.filters import Filters
from precompute.__main__ import main
from tests.corpus import DEMO, SAMPLE, build_analysed_db


def _source() -> Path:
    for path in (SAMPLE, DEMO):
        if path.exists():
            return path
    pytest.skip("neither the shared sample nor the demo corpus is present")


@pytest.fixture(scope="module")
def full_db(tmp_path_factory) -> Path:
    """The shared sample through the real pipeline, with a fake embedder and reducer."""
    return build_analysed_db(_source(), tmp_path_factory.mktemp("pack") / "full.duckdb")


@pytest.fixture(scope="module")
def ingest_db(tmp_path_factory) -> Path:
    from precompute import pipeline
    from precompute.config import Settings

    db = tmp_path_factory.mktemp("pack_ingest") / "ingest.duckdb"
    pipeline.build(Settings(source=str(_source()), db=db, progress=False), only=("ingest",),
                   log=lambda _: None)
    return db


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
    assert [i.key for i in report.items] == [s.key for s in fp.SPECS]
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


def test_captions_are_in_every_svg(pack):
    report, out, model = pack
    for item in report.items:
        text = _svg_text(out / item.files["svg"])
        assert f"model: {model}" in item.caption and "2026-11-26" in item.caption
        for part in item.caption.split(" · "):  # a long caption wraps at " · "
            assert part in text, (item.key, part)
        assert "ThoughtTrace (Jin et al. 2026" in text or "demo corpus" in text
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
    assert "@article{jin2026thoughttrace" in page


def test_pack_without_caption_and_on_ingest_only_db(ingest_db, tmp_path):
    report = fp.render_pack(ingest_db, tmp_path, caption=False, progress=False, scale=1,
                            only=("length-distribution", "domains", "semantic-shifts"))
    by_key = {i.key: i for i in report.items}
    assert by_key["domains"].skipped and by_key["semantic-shifts"].skipped
    assert not by_key["domains"].files and not report.failed
    svg = _svg_text(tmp_path / by_key["length-distribution"].files["svg"])
    assert "Jin et al. 2026" not in svg and "data sha256" not in svg
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
    code = main(["figures", "--db", str(full_db), "--out", str(tmp_path / "x"),
                 "--model", "No Such Model", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown model" in err and "Traceback" not in err
    code = main(["figures", "--db", str(tmp_path / "none.duckdb"), "--out",
                 str(tmp_path / "y")])
    assert code == 2 and "no database file" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_figures_command_help_has_an_example(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["figures", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out and "python -m precompute figures" in out
    for option in ("--db", "--out", "--domain", "--model", "--provider", "--label",
                   "--no-caption"):
        assert option in out
