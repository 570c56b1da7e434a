"""Intake: turn what a student uploaded into the definitions the checks need, without running it.

`discover` finds the notebook files, `normalise` makes an export parseable Python, and `slicer`
keeps only the statements the answers depend on (the rule is written down in slicer.py).
"""
