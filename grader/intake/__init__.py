"""Intake: turn what a student uploaded into the definitions the checks need, without running it.

`discover` finds the notebook files (and, among several uploads, the one implementing the most
answers); `normalise` makes an export parseable Python; `tolerant` parses it cell by cell, leaving
out what does not parse; `headings` and `sections` decide which part of the notebook is graded (the
section-boundary rule is written down in sections.py); `slicer` keeps only the statements the
answers depend on (its rule is written down in slicer.py).
"""
