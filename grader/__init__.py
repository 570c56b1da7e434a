"""The grading engine: a sandboxed autograder for the assignment its table describes.

Which assignment that is, and where it lives: grader/assignment_home.py.
"""
