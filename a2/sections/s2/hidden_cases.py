"""The shapes of §2.1's hidden cases, apart from the checks so that tests/test_contracts.py can hold
them to the promises of the notebook's docstrings (a student may rely on those: `assert Q.shape ==
K.shape` where both are promised as `(..., n_tok, d)`). Only the hidden checks import this module, so
the students' checker does not carry it.
"""

#: Inputs of each helper's hidden cases, by shape.
PAIRWISE_SHAPES = [((2, 5, 4), (2, 5, 4)), ((2, 3, 5, 4), (2, 3, 5, 4)), ((1, 1, 1, 6, 8), (1, 1, 1, 6, 8))]
SPLIT_SETTINGS = [((2, 5, 12), 3), ((1, 1, 8), 8), ((3, 7, 6), 1), ((2, 65, 48), 4)]
OUTPUT_SHAPES = [((2, 3, 5, 5), (2, 3, 5, 4)), ((2, 3, 7, 7), (2, 3, 7, 4)), ((1, 1, 1), (1, 1, 6))]
MERGE_SHAPES = [(2, 3, 5, 4), (1, 8, 1, 1), (3, 1, 7, 6), (2, 4, 65, 12)]
MASKED_SHAPES = [(2, 3, 6, 6), (1, 6, 6), (2, 4, 1, 1), (1, 2, 17, 17)]
SHAPE_CASES = [
    (2, 5, 6, 3),
    (1, 1, 4, 1),
    (3, 7, 8, 8),
    (1, 64, 32, 4),
    (2, 65, 48, 3),
    (4, 16, 16, 2),
    (2, 9, 40, 5),
    (1, 3, 12, 6),
]
