"""``denial_text`` writes exactly what the json module writes for ``denial_json``.

The hand-written encoder exists for speed (once per denial of a big log);
these tests hold it to the json module's bytes on real denials and on
generated values with hostile text (quotes, backslashes, control characters,
non-ASCII, lone surrogates from backslashreplace) and odd numbers.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from avcfix.audit.api import scan
from avcfix.audit.model import Context, Denial
from avcfix.report.jsondoc import DENIAL_ENCODER, denial_json, denial_text

PROJECT = Path(__file__).resolve().parents[2]


def reference(d: Denial) -> str:
    return DENIAL_ENCODER.encode(denial_json(d))


def test_example_and_corpus_denials(corpus_dir):
    sources = [PROJECT / "fixtures" / "eucanetd" / "audit.log", *sorted(corpus_dir.rglob("*.log"))]
    n = 0
    for path in sources:
        for d in scan([str(path)]):
            assert denial_text(d) == reference(d), d
            n += 1
    assert n > 1000


text = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(['"', "\\", "\n", "\x00", "\x1d", "\udc80"]),
               max_size=20)
maybe_text = st.none() | text
maybe_int = st.none() | st.integers(min_value=-(2**70), max_value=2**70)
context = st.builds(Context, text, text, text, st.none() | text)


@settings(max_examples=300)
@given(
    scontext=context, tcontext=context, tclass=text, perms=st.lists(text, max_size=3).map(tuple),
    permissive=st.booleans(), pid=maybe_int, comm=maybe_text, exe=maybe_text, syscall=maybe_text,
    success=st.none() | st.booleans(), exit_=maybe_int, paths=st.lists(text, max_size=3).map(tuple),
    time=st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1762000000.081, 0.0, -0.0]),
    serial=st.integers(min_value=0, max_value=2**64), node=maybe_text, port=maybe_int, ioctl=maybe_int,
)
def test_generated_denials(scontext, tcontext, tclass, perms, permissive, pid, comm, exe, syscall, success,
                           exit_, paths, time, serial, node, port, ioctl):
    d = Denial(kind="AVC", node=node, time=time, serial=serial, scontext=scontext, tcontext=tcontext,
               tclass=tclass, perms=perms, permissive=permissive, pid=pid, comm=comm, exe=exe,
               syscall=syscall, syscall_nr=pid, arch=comm, success=success, exit=exit_, name=exe,
               path=comm, paths=paths, cwd=exe, proctitle=comm, port=port, ioctlcmd=ioctl,
               capability=port, source=tclass, line=serial)
    assert denial_text(d) == reference(d)
