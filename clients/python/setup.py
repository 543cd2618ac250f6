"""Marks the generated packages typed when they are built (PEP 561), so that type checkers read their .pyi stubs.

py.typed cannot live in gen/: `npm run generate` empties that folder and
writes only what protoc writes. pyproject.toml holds everything else.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

GENERATED_PACKAGES = ("provenance/v1", "google/rpc", "google/api")


class BuildPyMarkingGeneratedTyped(build_py):
    def run(self):
        super().run()
        for package in GENERATED_PACKAGES:
            (Path(self.build_lib) / package / "py.typed").touch()


setup(cmdclass={"build_py": BuildPyMarkingGeneratedTyped})
