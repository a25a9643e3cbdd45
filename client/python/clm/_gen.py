"""The protobuf classes of proto/clm/v1/clm.proto.

An installed wheel carries them: protoc generated ``clm/v1/clm_pb2.py`` (and
its type stub ``clm_pb2.pyi``) when the wheel was built (see setup.py), so
``import clm`` needs only the protobuf runtime. A source checkout (on
PYTHONPATH, or ``pip install -e``) has no generated code: there ``clm``
looks for the module ``protoc --python_out`` makes from the .proto in a
cache directory, and runs ``protoc`` once to make it when it is missing.
Which one is used:

- ``$CLM_PROTO`` set: generated from that .proto (even in a wheel);
- else the wheel's ``clm.v1.clm_pb2``, when it is there;
- else generated from ``proto/clm/v1/clm.proto`` of the source tree this
  package sits in (``client/python/clm`` -> ``../../..``), else from
  ``$CLM_SOURCE_DIR/proto/clm/v1/clm.proto``.

Generating: the cache is ``$CLM_PYTHON_CACHE`` if set, else
``$XDG_CACHE_HOME/clm-python`` (``~/.cache/clm-python``), else a directory
under the system's temp dir. Each generation lives in a subdirectory named
after a hash of the .proto's bytes and the protobuf runtime's version, so
an edited .proto or another runtime is generated anew and several
checkouts share one cache safely. ``protoc`` is ``$PROTOC`` if set, else
the one on ``PATH`` (Debian: ``protobuf-compiler``).

``python3 -m clm`` loads it (generating it if needed) and says where it is.
"""

import hashlib
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

PROTO_REL = os.path.join("clm", "v1", "clm.proto")
MODULE_NAME = "clm.pb"
SHIPPED_NAME = "clm.v1.clm_pb2"


class GenerateError(ImportError):
    """The protobuf module could not be found or generated."""


def _runtime_version():
    try:
        import google.protobuf
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise GenerateError(
            "clm needs the protobuf runtime, which %s does not have: "
            "apt-get install python3-protobuf (for /usr/bin/python3), or pip "
            "install protobuf (another Python: pyenv, a venv)"
            % sys.executable) from e
    return google.protobuf.__version__


def find_proto():
    """Returns (proto_root, proto_file) of clm/v1/clm.proto."""
    candidates = []
    env = os.environ.get("CLM_PROTO")
    if env:
        candidates.append(os.path.abspath(env))
    here = os.path.dirname(os.path.abspath(__file__))
    candidates.append(os.path.normpath(
        os.path.join(here, "..", "..", "..", "proto", PROTO_REL)))
    src = os.environ.get("CLM_SOURCE_DIR")
    if src:
        candidates.append(os.path.join(os.path.abspath(src), "proto",
                                       PROTO_REL))
    for path in candidates:
        if os.path.isfile(path):
            # proto root = the directory above clm/v1/
            root = os.path.dirname(os.path.dirname(os.path.dirname(path)))
            return root, path
    raise GenerateError(
        "cannot find clm/v1/clm.proto (looked at: %s); set CLM_PROTO to its "
        "path" % ", ".join(candidates))


def cache_root():
    env = os.environ.get("CLM_PYTHON_CACHE")
    if env:
        return os.path.abspath(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "clm-python")


def _writable_dir(path):
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def _generate(protoc, root, proto, dest):
    """Runs protoc into a new directory next to dest, then renames it."""
    parent = os.path.dirname(dest)
    tmp = tempfile.mkdtemp(prefix=".gen-", dir=parent)
    try:
        cmd = [protoc, "--python_out=" + tmp, "-I", root, proto]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except OSError as e:
            raise GenerateError(
                "cannot run protoc (%s): install protobuf-compiler or set "
                "PROTOC" % e) from e
        if r.returncode != 0:
            raise GenerateError("%s failed: %s" % (" ".join(cmd),
                                                    r.stderr.strip()))
        try:
            os.rename(tmp, dest)
        except OSError:
            # Another process generated the same thing first: keep theirs.
            if not os.path.isfile(os.path.join(dest, "clm", "v1",
                                               "clm_pb2.py")):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def module_path():
    """The path of the generated clm_pb2.py (generated if need be)."""
    runtime = _runtime_version()
    root, proto = find_proto()
    with open(proto, "rb") as f:
        digest = hashlib.sha256(f.read() + b"\0" + runtime.encode())
    digest = digest.hexdigest()
    bases = [cache_root(), os.path.join(
        tempfile.gettempdir(), "clm-python-%d" % os.getuid())]
    last = None
    for base in bases:
        dest = os.path.join(base, digest[:20])
        path = os.path.join(dest, "clm", "v1", "clm_pb2.py")
        if os.path.isfile(path):
            return path
        if not _writable_dir(base):
            last = GenerateError("cache directory %s is not writable" % base)
            continue
        protoc = os.environ.get("PROTOC") or shutil.which("protoc")
        if not protoc:
            raise GenerateError(
                "clm needs protoc once to generate its protobuf classes from "
                "%s: apt-get install protobuf-compiler (or set PROTOC)"
                % proto)
        try:
            _generate(protoc, root, proto, dest)
        except OSError as e:
            last = GenerateError("cannot generate into %s: %s" % (base, e))
            continue
        return path
    raise last


def shipped_path():
    """The path of the wheel's generated clm/v1/clm_pb2.py, or None when
    this package has none (a source checkout)."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "v1", "clm_pb2.py")
    return path if os.path.isfile(path) else None


def load():
    """Imports the generated module as ``clm.pb`` and returns it."""
    mod = sys.modules.get(MODULE_NAME)
    if mod is not None:
        return mod
    if not os.environ.get("CLM_PROTO") and shipped_path():
        _runtime_version()
        mod = importlib.import_module(SHIPPED_NAME)
        sys.modules[MODULE_NAME] = mod
        return mod
    path = module_path()
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = mod
    try:
        spec.loader.exec_module(mod)
    except Exception:
        del sys.modules[MODULE_NAME]
        raise
    return mod
