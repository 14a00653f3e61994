"""`mea-culpa new`: a playbook that validates as written, with the editor schema beside it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from mea_culpa.errors import UsageError
from mea_culpa.playbook.loading import json_schema, loads
from mea_culpa.playbook.model import ID_PATTERN

SCHEMA_FILE = "playbook.schema.json"
SCHEMA_COMMENT = f"# yaml-language-server: $schema=./{SCHEMA_FILE}\n"

SKELETON = """\
# A mea-culpa playbook. Reference: docs/playbooks.md; check it with `mea-culpa validate`.
id: {id}
title: {title}
summary: One line that says which mistakes this playbook is for.
version: 1
tags: [custom]
intro: |
  Take a breath. Mistakes happen; what matters now is handling this one well, step by step.

stages:
  - stage: facts
    guidance: |
      Before judging anything, write down what is known. Facts first keep the reaction
      in proportion to the harm.
    steps:
      - id: severity
        type: choice
        prompt: How much harm was done?
        choices:
          - {{value: none, label: "None: nobody was affected"}}
          - {{value: minor, label: "Minor: a small nuisance for a few people"}}
          - {{value: major, label: "Major: real harm or cost for someone"}}
          - {{value: critical, label: "Critical: serious harm, many people, money or data"}}
      - id: sender_name
        type: text
        prompt: Your name, as you sign your messages
      - id: what_happened
        type: long-text
        prompt: What happened, in plain words the affected person would understand?
      - id: who_affected
        type: text
        prompt: Who was affected?
      - id: impact
        type: long-text
        prompt: What did it mean for them?
        when: "severity != 'none'"

  - stage: cause
    guidance: |
      Look for what in the way you work let this happen, not for someone to blame.
    steps:
      - id: contributing_factors
        type: long-text
        prompt: What made this mistake possible?
      - id: system_gap
        type: long-text
        prompt: That sounds like it points at a person. What in the process let it happen?
        when: "contributing_factors is blaming"

  - stage: own
    guidance: |
      Say plainly that it was yours to prevent. Owning it is what makes the apology believable.
    steps:
      - id: responsibility
        type: long-text
        prompt: Your statement of responsibility, in the first person
        default: "{{{{ what_happened | sentence }}}} That was my mistake."

  - stage: apologize
    when: "severity != 'none'"
    guidance: |
      Apologize soon, to everyone affected, on the channel they already use.
    steps:
      - id: apology_sent
        type: action
        prompt: Send the apology (draft it with `mea-culpa draft`)

  - stage: fix
    guidance: |
      Repair the damage and make the affected person whole, even if it costs you more.
    steps:
      - id: fix_done
        type: long-text
        prompt: What did you do to repair it?
      - id: repair
        type: long-text
        prompt: What do you offer the affected person to make it right?
        when: "severity != 'none'"

  - stage: prevent
    guidance: |
      Change the system so that this cannot happen the same way again. Keep it affordable.
    steps:
      - id: prevention_actions
        type: list
        action_items: true
        prompt: What will change, who owns it, and by when?
        fields:
          - {{id: what, prompt: What will change?}}
          - {{id: owner, prompt: Who owns it?}}
          - {{id: due, prompt: By when?, type: date}}
      - id: prevention_summary
        type: long-text
        prompt: In one or two sentences for the customer, what changes so it does not recur?
        when: "severity != 'none'"

  - stage: move-on
    guidance: |
      Keep the lesson, tell everyone involved what was done, and let the rest go.
    steps:
      - id: lesson
        type: text
        prompt: The lesson, in one sentence
      - id: keep_record
        type: yes-no
        prompt: Keep this record in the journal?
        default: true

messages:
  - id: customer-apology
    title: Apology to the people affected
    when: "severity != 'none'"
  - id: internal-note
    title: Blameless note for the team
    audience: internal
"""


def _title_from(name: str) -> str:
    return name.replace("-", " ").capitalize()


# `new --from` copies a playbook kept in a folder of its own with its templates; a folder
# someone else shares may hold anything, so what is copied is bounded.
MAX_COPY_BYTES = 10_000_000
MAX_COPY_FILES = 1_000


class _Copy:
    """Copies a playbook's folder: regular files and folders only, within the bounds. A
    link, a FIFO, a device or a socket stops the copy with one line naming it: a link could
    bring along a key file from elsewhere, /dev/zero would fill the disk, a FIFO would wait
    for ever."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.bytes = 0
        self.files = 0

    def refuse(self, path: Path, why: str) -> UsageError:
        return UsageError(
            f"cannot copy {path}: {why}; `new --from` copies regular files only",
            hint="remove it from the playbook's folder (or copy the file it stands for in its place) and run again",
        )

    def into(self, source: Path, target: Path, depth: int = 0) -> None:
        """Copy what `source` holds into the existing, empty folder `target`."""
        import os
        import stat

        from mea_culpa.files import NotReadable, describe_mode, read_file

        if depth > 20:
            raise self.refuse(source, "folders nest more than 20 deep")
        with os.scandir(source) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        for entry in entries:
            path = Path(entry.path)
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                raise self.refuse(path, f"it is a link (to {os.readlink(path)!r})")
            if stat.S_ISDIR(info.st_mode):
                (target / entry.name).mkdir()
                self.into(path, target / entry.name, depth + 1)
                continue
            if not stat.S_ISREG(info.st_mode):
                raise self.refuse(path, f"it is {describe_mode(info.st_mode)}")
            self.files += 1
            if self.files > MAX_COPY_FILES:
                raise self.refuse(self.source, f"it holds more than {MAX_COPY_FILES:,} files")
            try:  # opened once, not through a link, and checked again on what was opened
                data = read_file(path, max_bytes=MAX_COPY_BYTES - self.bytes, follow_links=False)
            except NotReadable as exc:
                if str(exc).startswith("file is too large"):
                    raise self.refuse(self.source, f"it holds more than {MAX_COPY_BYTES:,} bytes") from None
                raise self.refuse(path, str(exc)) from None
            self.bytes += len(data)
            with open(target / entry.name, "xb") as handle:
                handle.write(data)


def create(name: str, directory: Path, *, from_id: str | None = None, extra: tuple[Path, ...] = ()) -> Path:
    """Write a new playbook NAME into `directory` and return its path. Never overwrites."""
    if not re.fullmatch(ID_PATTERN, name):
        raise UsageError(f"{name!r} is not a valid playbook id", hint="use kebab-case: lowercase words joined by -, e.g. late-invoice")
    target = directory / f"{name}.yaml"
    if target.exists() or (directory / name).exists():
        raise UsageError(f"{target} already exists; choose another name or edit that file")
    if from_id is None:
        text = SKELETON.format(id=name, title=_title_from(name))
        source_folder = None
    else:
        from mea_culpa.playbook import catalog

        source = catalog.resolve(from_id, extra)
        assert source.path is not None
        from mea_culpa import yamlfile

        try:
            text = yamlfile.read_text(source.path)
        except yamlfile.YamlProblems as exc:
            raise UsageError(str(exc.diagnostics[0])) from None
        text = re.sub(r"(?m)^id:.*$", f"id: {name}", text, count=1)
        text = re.sub(r"(?m)^title:.*$", f"title: {source.title} (own copy)", text, count=1)
        # A playbook kept in a folder of its own carries its templates: copy them along.
        source_folder = source.path.parent if source.path.name in ("playbook.yaml", "playbook.yml") else None
    text = re.sub(r"(?m)^# yaml-language-server:.*\n", "", text)
    text = SCHEMA_COMMENT + text
    if source_folder is not None:
        target = directory / name / "playbook.yaml"
    # The scaffold must validate as written; its templates are the ones about to be copied.
    loads(text, str(target), path=source.path if source_folder is not None else target)
    made = None  # the folder this copy creates, removed whole if anything fails
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if source_folder is not None:
            target.parent.mkdir()  # FileExistsError: someone else's, left alone
            made = target.parent
            _Copy(source_folder).into(source_folder, made)
        with open(target, "x" if source_folder is None else "w", encoding="utf-8") as handle:
            handle.write(text)
        schema_path = target.parent / SCHEMA_FILE
        if not schema_path.exists():
            schema_path.write_text(json.dumps(json_schema(), indent=2) + "\n", encoding="utf-8")
    except BaseException as exc:  # a refusal, a full disk, Ctrl-C: no half copy is left behind
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        if isinstance(exc, FileExistsError):
            raise UsageError(f"{target} already exists; choose another name or edit that file") from None
        if isinstance(exc, OSError):
            from mea_culpa.errors import StorageError

            raise StorageError(f"cannot write {target}: {exc.strerror or exc}") from None
        raise
    return target
