"""§3 on the trusted side: the profile's model, tokenizer and data, and the grader's own accuracy count.

Nothing here runs student code. The drivers in ``drivers/`` run beside the student's
code in the sandbox and share only ``a2.sections.s3.batches`` with this package.
"""
