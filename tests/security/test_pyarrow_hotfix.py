"""CVE-2023-47248 stays mitigated: once Beam is imported, pyarrow refuses pickled extension types."""

from __future__ import annotations

import subprocess
import sys

# Writes an Arrow IPC stream whose column type is a pickled `arrow.py_extension_type`, then reads it back.
PROBE = """
import sys
if sys.argv[1] == "with-beam":
    import apache_beam  # noqa: F401  (Beam installs pyarrow-hotfix as it loads)
import pyarrow as pa

class Probe(pa.PyExtensionType):
    def __init__(self):
        super().__init__(pa.int64())

    def __reduce__(self):
        return Probe, ()

table = pa.table({"x": pa.ExtensionArray.from_storage(Probe(), pa.array([1, 2]))})
sink = pa.BufferOutputStream()
with pa.ipc.new_stream(sink, table.schema) as writer:
    writer.write_table(table)
try:
    pa.ipc.open_stream(sink.getvalue()).read_all()
    print("DESERIALISED")
except RuntimeError as error:
    print("REFUSED", str(error).splitlines()[0])
"""


def probe(mode: str) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_pickled_extension_types_are_refused_once_beam_is_loaded():
    assert probe("with-beam") == "REFUSED Disallowed deserialization of 'arrow.py_extension_type':"


def test_the_probe_does_deserialise_without_the_hotfix():
    # The control: without Beam's import, pyarrow 10 unpickles the type, so the test above can fail.
    assert probe("bare") == "DESERIALISED"
