"""§1 query crafting (A2S1): the grader's own K and V, what each question asks for, and the feedback
for a query that misses."""
