"""§3's drivers: the probes of the unit checks and the threshold run, in the student's process.
What a driver may do is said in ``grader.sections``."""
