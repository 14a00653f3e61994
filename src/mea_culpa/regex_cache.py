"""Compiled regular expressions kept between runs, like .pyc files for patterns.

Why: the apology check judges and compiles about 70 large patterns (100,000 characters
of pattern text, 200,000 words of regex program). Parsing them, checking them and
compiling them costs about 250 ms in every process, most of `check` and `draft`. The
finished program can be handed straight to `_sre.compile`, which is what `re.compile`
does last; doing only that, from a cache file of about 1 MB, takes 2 to 3 ms.

What is stored: for each key, what the caller's judge decided, either why the pattern is
unfit (a text) or the compiled program: `(pattern, flags, code, groups, groupindex,
indexgroup)`, the arguments CPython's `re._compiler.compile` passes to `_sre.compile`,
with the code as packed machine words. Only a program this process compiled itself, with
the function the cache hands the judge, is stored; never a pattern from elsewhere.

Why it is safe: the file is read back only when it and its folder are the user's own and
nobody else can write them (see `DiskCache._trusted`), and `_sre.compile` validates the
code it is given and raises on a bad program, which counts as a miss. The cache version
holds the Python version, the regex engine's magic number and word size, the byte order,
mea-culpa's version and the stamp of its code (`cache.code_stamp`), so another
interpreter, release or edited checkout never reads it. When the interpreter's
regex internals are not the ones expected (another Python implementation, a changed
signature), or anything about the cache fails, patterns are judged and compiled the
plain way: the cache can cost time, never a result.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mea_culpa.cache import DiskCache

# What a judge decides about a pattern: the compiled pattern, or why it cannot be used.
Verdict = re.Pattern[str] | str
# How a judge compiles: like re.compile, but through the cache's hands.
Compile = Callable[[str], re.Pattern[str]]

_SRE_COMPILE_PARAMETERS = ["pattern", "flags", "code", "groups", "groupindex", "indexgroup"]
_FORMAT = "1"  # the shape of a stored entry; change it when that shape changes

try:
    import _sre  # type: ignore[import-not-found]
    from array import array

    try:  # Python 3.11+
        from re import _compiler, _parser  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_compile as _compiler
        import sre_parse as _parser
    # The machine word that array() packs the code into: the one as wide as the engine's.
    _WORD = next(code for code in "ILQ" if array(code).itemsize == _sre.CODESIZE)
    # The steps copied from re._compiler.compile are used only where they are the ones
    # known: elsewhere a wrong program could be built, so patterns compile the plain way.
    _signature = (_sre.compile.__text_signature__ or "").strip("()")
    _USABLE = [name.strip() for name in _signature.split(",")][-6:] == _SRE_COMPILE_PARAMETERS and (
        _compiler._code.__code__.co_varnames[:2] == ("p", "flags")
    )
except Exception:  # pragma: no cover - another implementation: no cache, plain re.compile
    _USABLE = False


class PatternCache:
    """One cache file of verdicts on patterns, for one judge."""

    def __init__(self, name: str) -> None:
        self.name = name

    def verdict(self, key: str, judge: Callable[[Compile], Verdict]) -> Verdict:
        """What `judge(compile)` decides, from the cache when an earlier run stored it for `key`.

        The judge compiles with the function it is given, so that the program of the
        pattern it returns can be stored; a text (why the pattern is unfit) is stored as
        it is.
        """
        disk = self._disk
        stored = disk.get(key) if disk is not None else None
        if stored is not None:
            remembered = _verdict_from(stored)
            if remembered is not None:
                return remembered
        programs: dict[re.Pattern[str], tuple[Any, ...]] = {}
        verdict = judge(lambda pattern: _compile(pattern, programs))
        stored = verdict if isinstance(verdict, str) else programs.get(verdict)
        if disk is not None and stored is not None:
            disk.put(key, stored)
        return verdict

    @cached_property
    def _disk(self) -> DiskCache | None:
        """The cache file, opened once (finding it is not free, and a check asks for a
        hundred patterns); None when patterns cannot be rebuilt here."""
        if not _USABLE:
            return None
        try:
            from mea_culpa.cache import DiskCache

            return DiskCache.named(self.name, version=_version_tag(), fmt="marshal")
        except Exception:  # e.g. no usable home: judge every pattern, as without a cache
            return None


def _version_tag() -> str:
    """Everything a stored program or verdict depends on besides its key: the regex
    engine, and the code that judges (any module of mea-culpa, which an edited checkout
    changes without a new version number)."""
    from mea_culpa.cache import stamp

    return "/".join([_FORMAT, str(_sre.MAGIC), str(_sre.CODESIZE), sys.byteorder, stamp()])


def _compile(pattern: str, programs: dict[re.Pattern[str], tuple[Any, ...]]) -> re.Pattern[str]:
    """`re.compile(pattern)`, noting in `programs` what rebuilds it.

    The steps are `re._compiler.compile`'s, and the pattern is built from its stored form,
    so that a warm run gets exactly the program a cold run used.
    """
    if not _USABLE:
        return re.compile(pattern)
    try:
        stored = _program(pattern)
        compiled = _rebuild(stored)
    except re.error:
        raise
    except Exception:  # internals not as expected: the plain way still works
        return re.compile(pattern)
    programs[compiled] = stored
    return compiled


def _program(pattern: str) -> tuple[Any, ...]:
    parsed = _parser.parse(pattern, 0)
    code = _compiler._code(parsed, 0)
    groupindex = dict(parsed.state.groupdict)
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, index in groupindex.items():
        indexgroup[index] = name
    words = array(_WORD, code).tobytes()
    return (pattern, parsed.state.flags, words, parsed.state.groups - 1, groupindex, tuple(indexgroup))


def _rebuild(stored: tuple[Any, ...]) -> re.Pattern[str]:
    pattern, flags, words, groups, groupindex, indexgroup = stored
    code = array(_WORD)
    code.frombytes(words)
    return _sre.compile(pattern, flags, code.tolist(), groups, groupindex, indexgroup)  # type: ignore[no-any-return]


def _verdict_from(stored: Any) -> Verdict | None:
    """A stored verdict made usable again, or None if it cannot be (then judge anew)."""
    if isinstance(stored, str):
        return stored
    try:
        return _rebuild(stored)
    except Exception:  # a damaged entry; _sre.compile refuses a bad program
        return None
