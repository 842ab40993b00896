"""Python-backend ``model.py`` sources shipped as package data.

The files here are copied into model repositories by :mod:`model_build.local_serving`; they run inside
Triton's python backend stub, never inside this package.
"""
