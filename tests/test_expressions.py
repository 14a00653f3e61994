"""The sandbox every playbook expression and template runs in: `when` conditions, templated
defaults and message templates, all by Jinja's ImmutableSandboxedEnvironment with limits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mea_culpa.errors import SecurityError, TemplateError
from mea_culpa.messages import drafting as messages
from mea_culpa.playbook import expressions
from mea_culpa.playbook.loading import load
from mea_culpa.run import session as sm

REPO = Path(__file__).resolve().parent.parent


def test_a_condition_is_evaluated_over_the_answers():
    assert expressions.condition("severity in ['serious', 'very-serious'] and not fixed", {"severity": "serious", "fixed": False})
    assert not expressions.condition("severity == 'none'", {"severity": "serious"})


def test_a_templated_default_is_rendered_over_the_answers():
    assert expressions.render_string("{{ what }} That was my mistake.", {"what": "I sent it twice."}) == "I sent it twice. That was my mistake."


def test_a_name_the_answers_lack_is_one_line_naming_it():
    with pytest.raises(TemplateError, match="'nobody' is undefined"):
        expressions.condition("nobody", {"a": 1})
    assert expressions.condition("a or nobody", {"a": 1})  # never read


def test_an_unsafe_attribute_is_refused_by_the_sandbox():
    with pytest.raises(SecurityError, match="refused by the sandbox"):
        expressions.evaluate("x.__class__", {"x": "text"})


@pytest.mark.parametrize("source", ["x.__class__", "x['__class__']", "x.mro", "x | attr('__class__')", "x.__class__ == 1 or true"])
def test_the_escape_routes_are_refused_before_anything_runs(source):
    assert expressions.analyze_expression(source).refused


def test_text_over_the_sandbox_limit_is_refused():
    big = "x" * (expressions.MAX_OUTPUT // 2 + 1)
    with pytest.raises(SecurityError):
        expressions.evaluate("a ~ a", {"a": big})
    with pytest.raises(SecurityError):
        expressions.render_string("{{ a }}{{ a }}", {"a": big})


@pytest.mark.parametrize(
    "kind, source",
    [
        ("when", "[x ~ " * 100 + "x" + "]" * 100),
        ("default", "{% if x %}" * 120 + "y" + "{% endif %}" * 120),
    ],
)
def test_an_expression_nested_past_what_python_compiles_is_one_line(kind, source):
    """Python refuses the code Jinja compiles for 200 nested parentheses or 100 indents:
    that is the playbook's fault, said in one line, not a traceback."""
    run = expressions.condition if kind == "when" else expressions.render_string
    with pytest.raises(TemplateError) as caught:
        run(source, {"x": "x"})
    assert "\n" not in str(caught.value)


def test_a_template_nested_past_what_python_compiles_is_one_line_error(tmp_path: Path) -> None:
    from mea_culpa.playbook import answers as answers_mod

    own = tmp_path / "general.yaml"
    shutil.copy(REPO / "playbooks" / "general.yaml", own)
    book = load(own)
    values = answers_mod.check_all(book, answers_mod.load_file(REPO / "tests" / "data" / "answers" / "general.yaml"), source="test")
    session, _ = sm.new_session(book, session_id="2026-11-22-t", title="T", now="2026-11-22T10:00:00Z")
    for step_id, value in values.items():
        session, _ = sm.set_answer(session, book.step(step_id), value, now="2026-11-22T10:01:00Z")
    depth = 120
    (tmp_path / "customer-apology.j2").write_text(
        "{% if recipient_name %}" * depth + "Hello" + "{% endif %}" * depth + "\n", encoding="utf-8"
    )
    with pytest.raises(TemplateError, match="nested too deeply") as caught:
        messages.render(book, session, "customer-apology")
    assert "\n" not in str(caught.value)
