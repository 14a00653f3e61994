"""Why a message is not offered for a session, in words: what its `when` condition asks
for, in the playbook's own questions, and which answers stand in the way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mea_culpa.playbook.model import Message, Playbook, Step


def not_offered(playbook: Playbook, message: Message, context: Mapping[str, Any]) -> str:
    """Why a message is not offered for a session, in the words of the playbook's own
    questions: what its `when` asks for, and which answers (in `context`, what the
    condition was evaluated over) stand in the way."""
    from mea_culpa.playbook import expressions

    source = message.when or ""
    try:
        tree = expressions.expression_tree(source)
    except expressions.ExpressionSyntaxError:
        tree = None
    if tree is None:
        return f"the playbook offers “{message.title}” only when `{source}`, which this session's answers do not meet"
    words = _Condition(playbook, context)
    findings = list(dict.fromkeys(words.findings(tree)))
    found = f"; here {_and_list(findings)}" if findings else ""
    return f"the playbook offers “{message.title}” only when {words.requirement(tree, top=True)}{found}"


def _and_list(parts: list[str]) -> str:
    from mea_culpa.text.filters import sentence_list

    return sentence_list(parts)


class _Condition:
    """A `when` condition put into words: what it requires, and which of its parts the
    answers do not meet. Each part is evaluated by the sandbox like the whole, from a
    source written back from the parsed tree; a part too complex to write back is quoted
    as it is."""

    _OPS = {"eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=", "in": "in", "notin": "not in"}

    def __init__(self, playbook: Playbook, context: Mapping[str, Any]) -> None:
        self.playbook = playbook
        self.context = context

    # --- writing a part back as source, to evaluate it ------------------------------------

    def source(self, node: Any) -> str | None:
        from jinja2 import nodes

        if isinstance(node, nodes.Name):
            return node.name
        if isinstance(node, nodes.Const):
            return repr(node.value)
        if isinstance(node, (nodes.List, nodes.Tuple)):
            items = [self.source(item) for item in node.items]
            return None if None in items else "[" + ", ".join(str(i) for i in items) + "]"
        if isinstance(node, nodes.Getattr):
            inner = self.source(node.node)
            return None if inner is None else f"{inner}.{node.attr}"
        if isinstance(node, nodes.Not):
            inner = self.source(node.node)
            return None if inner is None else f"not ({inner})"
        if isinstance(node, (nodes.And, nodes.Or)):
            left, right = self.source(node.left), self.source(node.right)
            op = "and" if isinstance(node, nodes.And) else "or"
            return None if left is None or right is None else f"({left}) {op} ({right})"
        if isinstance(node, nodes.Test) and not node.args and not node.kwargs:
            inner = self.source(node.node)
            return None if inner is None else f"{inner} is {node.name}"
        if isinstance(node, nodes.Compare) and len(node.ops) == 1 and node.ops[0].op in self._OPS:
            left, right = self.source(node.expr), self.source(node.ops[0].expr)
            return None if left is None or right is None else f"{left} {self._OPS[node.ops[0].op]} {right}"
        return None

    def holds(self, node: Any) -> bool | None:
        from mea_culpa.errors import TemplateError
        from mea_culpa.playbook import expressions

        source = self.source(node)
        if source is None:
            return None
        try:
            return expressions.condition(source, self.context, what="when")
        except TemplateError:
            return None

    # --- words --------------------------------------------------------------------------

    def _step(self, node: Any) -> Step | None:
        from jinja2 import nodes

        while isinstance(node, nodes.Getattr):
            node = node.node
        return self.playbook.step(node.name) if isinstance(node, nodes.Name) else None

    def _question(self, node: Any) -> str:
        step = self._step(node)
        if step is None:
            return f"`{self.source(node) or '…'}`"
        prompt = step.prompt if len(step.prompt) <= 60 else step.prompt[:59].rstrip() + "…"
        return f"“{prompt}”"

    def _label(self, step: Step | None, value: Any) -> str:
        if isinstance(value, (list, tuple)):
            return " or ".join(self._label(step, v) for v in value)
        return f"“{step.choice_label(value) if step else value}”"

    def requirement(self, node: Any, *, top: bool = False) -> str:
        from jinja2 import nodes

        if isinstance(node, (nodes.And, nodes.Or)):
            op = " and " if isinstance(node, nodes.And) else " or "
            text = self.requirement(node.left) + op + self.requirement(node.right)
            return text if top or isinstance(node, nodes.And) else f"either {text}"
        step = self._step(node.expr if isinstance(node, nodes.Compare) else node)
        if isinstance(node, nodes.Name):
            return f"{self._question(node)} is {'yes' if step and step.type == 'yes-no' else 'answered'}"
        if isinstance(node, nodes.Not) and isinstance(node.node, nodes.Name):
            inner = self._step(node.node)
            return f"{self._question(node.node)} is {'no' if inner and inner.type == 'yes-no' else 'not answered'}"
        if isinstance(node, nodes.Test) and node.name == "blaming":
            return f"{self._question(node.node)} puts it on a person"
        if isinstance(node, nodes.Compare) and len(node.ops) == 1 and isinstance(node.ops[0].expr, (nodes.Const, nodes.List, nodes.Tuple)):
            op, other = node.ops[0].op, node.ops[0].expr
            value = other.value if isinstance(other, nodes.Const) else [getattr(i, "value", "…") for i in other.items]
            if isinstance(node.expr, nodes.Getattr) and node.expr.attr == "state":
                marked = self._label(None, value)
                return f"{self._question(node.expr)} is {'not ' if op in ('ne', 'notin') else ''}marked {marked}"
            if op in ("eq", "in"):
                return f"{self._question(node.expr)} is {self._label(step, value)}"
            if op in ("ne", "notin"):
                return f"{self._question(node.expr)} is not {self._label(step, value)}"
        if isinstance(node, nodes.Compare) and len(node.ops) == 1 and node.ops[0].op == "in" and isinstance(node.expr, nodes.Const):
            target = self._step(node.ops[0].expr)
            return f"{self._question(node.ops[0].expr)} includes {self._label(target, node.expr.value)}"
        return f"`{self.source(node) or '…'}`"

    def findings(self, node: Any) -> list[str]:
        """What stands in the way: for each part that does not hold, the answer it reads."""
        from jinja2 import nodes

        if self.holds(node) is not False:
            return []
        if isinstance(node, (nodes.And, nodes.Or)):
            return self.findings(node.left) + self.findings(node.right)
        names = [node] if isinstance(node, nodes.Name) else list(node.find_all(nodes.Name))
        return [self._answer(n) for n in names if self.playbook.step(n.name)] or [
            f"{self.requirement(node)} does not hold"]

    def _answer(self, name: Any) -> str:
        step = self.playbook.step(name.name)
        value = self.context.get(name.name)
        question = self._question(name)
        if value is None or value == "" or value == []:
            return f"{question} has no answer"
        if isinstance(value, bool):
            return f"{question} is {'yes' if value else 'no'}"
        if isinstance(value, Mapping) and "state" in value:
            return f"{question} is marked “{value['state']}”"
        if isinstance(value, list):
            return f"{question} is {' and '.join(self._label(step, v) for v in value)}"
        if step is not None and step.choices:
            return f"{question} is {self._label(step, value)}"
        return f"{question} is answered"


