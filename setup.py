"""The one thing pyproject.toml does not say: the plugin's FastHttpSession wrapper in C
(harness/load/_inflight.c). Optional: without a C compiler the install goes on and the
plugin uses its Python twin."""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("harness.load._inflight", sources=["harness/load/_inflight.c"], optional=True),
])
