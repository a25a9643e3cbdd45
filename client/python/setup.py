"""Builds the clm wheel with its protobuf classes in it.

protoc generates clm/v1/clm_pb2.py and its type stub clm_pb2.pyi from
proto/clm/v1/clm.proto while the wheel is built (build_py), so an installed
clm needs only the protobuf runtime: no protoc and no .proto on the host.
Everything else is in pyproject.toml.

Where the .proto is: $CLM_PROTO_DIR (the directory that holds clm/v1/), else
proto/ next to this file (an sdist made from here carries a copy), else the
clm source tree's proto/ (client/python -> ../../proto). protoc is $PROTOC or
the one on PATH (Debian: protobuf-compiler, 3.20 or later for --pyi_out).

Offline, with Debian's python3-setuptools and python3-wheel:

    pip install --no-build-isolation client/python
"""

import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_REL = os.path.join("clm", "v1", "clm.proto")


def proto_root():
    """The directory that holds clm/v1/clm.proto."""
    candidates = [os.environ.get("CLM_PROTO_DIR"),
                  os.path.join(HERE, "proto"),
                  os.path.join(HERE, "..", "..", "proto")]
    for root in candidates:
        if root and os.path.isfile(os.path.join(root, PROTO_REL)):
            return os.path.normpath(root)
    raise SystemExit("clm: cannot find %s (looked in: %s); set CLM_PROTO_DIR"
                     % (PROTO_REL, ", ".join(c for c in candidates if c)))


class BuildPy(build_py):
    """build_py, then protoc into the build dir: clm/v1/clm_pb2.py(i)."""

    def run(self):
        super().run()
        root = proto_root()
        protoc = os.environ.get("PROTOC") or shutil.which("protoc")
        if not protoc:
            raise SystemExit("clm: building the wheel needs protoc: apt-get "
                             "install protobuf-compiler (or set PROTOC)")
        out = self.build_lib
        cmd = [protoc, "-I", root, "--python_out=" + out, "--pyi_out=" + out,
               os.path.join(root, PROTO_REL)]
        self.announce("running " + " ".join(cmd), level=2)
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("clm: %s failed: %s" % (" ".join(cmd),
                                                     r.stderr.strip()))
        # clm.v1: a regular package (the generated module's own name is
        # clm.v1.clm_pb2, as its classes' __module__ says).
        init = os.path.join(out, "clm", "v1", "__init__.py")
        with open(init, "w") as f:
            f.write('"""Generated from proto/clm/v1/clm.proto when the '
                    'wheel was built."""\n')


class Sdist(sdist):
    """sdist, with a copy of the .proto (a wheel built from it needs it)."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        dest = os.path.join(base_dir, "proto", "clm", "v1")
        os.makedirs(dest, exist_ok=True)
        shutil.copyfile(os.path.join(proto_root(), PROTO_REL),
                        os.path.join(dest, "clm.proto"))


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
