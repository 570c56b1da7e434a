"""The grader's own reference computations, run in the trusted process: what a correct answer gives."""
