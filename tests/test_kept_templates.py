"""Compiled message templates are kept between runs (messages._kept_templates), and a
template that changed is compiled afresh."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mea_culpa.playbook import answers as answers_mod
from mea_culpa import cache
from mea_culpa.messages import drafting as messages
from mea_culpa.run import session as sm
from mea_culpa.playbook.model import load

REPO = Path(__file__).resolve().parent.parent


def new_process() -> None:
    """Save the caches as a process does at exit, then forget everything it held."""
    for store in cache.DiskCache._open.values():
        store.save()
    cache.DiskCache._open.clear()
    messages._environment.cache_clear()


def session_for(book):
    values = answers_mod.load_file(REPO / "tests" / "data" / "answers" / "general.yaml")
    checked = answers_mod.check_all(book, values, source="test")
    session, _ = sm.new_session(book, session_id="2026-11-22-t", title="T", now="2026-11-22T10:00:00Z")
    for step_id, value in checked.items():
        session, _ = sm.set_answer(session, book.step(step_id), value, now="2026-11-22T10:01:00Z")
    return session


@pytest.fixture
def own_playbook(tmp_path: Path) -> Path:
    target = tmp_path / "general.yaml"
    shutil.copy(REPO / "playbooks" / "general.yaml", target)
    return target


def test_a_second_run_renders_without_parsing_a_template(own_playbook: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jinja2

    book = load(own_playbook)
    session = session_for(book)
    first = messages.render(book, session, "customer-apology").text
    new_process()

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("a kept template was parsed again")

    monkeypatch.setattr(jinja2.Environment, "_parse", no_parsing)
    assert messages.render(book, session, "customer-apology").text == first


def test_a_changed_template_is_compiled_afresh(own_playbook: Path) -> None:
    book = load(own_playbook)
    session = session_for(book)
    beside = own_playbook.parent / "customer-apology.j2"
    beside.write_text("First version for {{ recipient_name or 'you' }}.\n", encoding="utf-8")
    assert messages.render(book, session, "customer-apology").text.startswith("First version")
    new_process()
    beside.write_text("Second version for {{ recipient_name or 'you' }}.\n", encoding="utf-8")
    assert messages.render(book, session, "customer-apology").text.startswith("Second version")


def test_a_damaged_store_of_templates_is_only_a_miss(own_playbook: Path, isolated_home: Path) -> None:
    book = load(own_playbook)
    session = session_for(book)
    first = messages.render(book, session, "customer-apology").text
    new_process()
    store = isolated_home / "cache" / "jinja-templates.marshal"
    assert store.exists()
    import marshal

    entries = marshal.loads(store.read_bytes())
    entries["entries"] = {key: b"\x00garbage" for key in entries["entries"]}
    store.write_bytes(marshal.dumps(entries))
    assert messages.render(book, session, "customer-apology").text == first


def test_a_template_nested_past_what_python_compiles_is_one_line_error(own_playbook: Path) -> None:
    """Jinja compiles a template to Python, which refuses ~100 levels of indentation: that is
    the template's fault, said in one line, not a traceback."""
    from mea_culpa.errors import TemplateError

    book = load(own_playbook)
    session = session_for(book)
    depth = 120
    (own_playbook.parent / "customer-apology.j2").write_text(
        "{% if recipient_name %}" * depth + "Hello" + "{% endif %}" * depth + "\n", encoding="utf-8"
    )
    with pytest.raises(TemplateError, match="nested too deeply to compile; simplify it") as caught:
        messages.render(book, session, "customer-apology")
    assert "\n" not in str(caught.value)
