"""The grading engine, as packages by job; each imports only the packages of the layers below
it.

docs/development/architecture.md draws the packages and follows one hand-in through them, from
``kws grade`` to a student's feedback page; ``tests/test_layout.py`` enforces the order.
"""
