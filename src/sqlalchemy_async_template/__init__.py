"""Companion package of the sqlalchemy-async-template Copier template.

`sqla-template` renders projects from the template and verifies them: the same code the
template's own test suite uses.
"""
