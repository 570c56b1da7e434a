"""Assignment 2: Attention and Transformers, graded by the engine in ``grader/``.

Its table (assignment.toml) and course overlays (courses/), its checks (checks/), the code those
checks call and the student's process runs (sections/), and the offline profile's generated model and
data (assets/). The engine reads nothing here but what the table declares.
"""
