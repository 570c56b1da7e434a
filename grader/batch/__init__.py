"""Batch regrading: grade a whole class's submissions, then summarise them for instructors."""
